package store

import "errors"

// errRing marks a failure of the io_uring a sync went through, rather
// than of the sync (see syncRing).
var errRing = errors.New("io_uring")
