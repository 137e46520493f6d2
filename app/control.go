package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The control channel: the command line (and a desktop window opened
// beside a headless gateway) reaches the running gateway over a Unix
// domain socket in the data directory, never over TCP. Only the user can
// connect to it: the socket is 0600 in a data directory that is 0700 (on
// Windows, it inherits the per-user ACL of the profile's AppData folder).
// Whatever listens on a port recorded in a stale serve.json is never told
// anything: a gateway that is not on its socket is not running, and the
// command line then works on the data itself.

// ControlSocket is the name of the gateway's control socket in its data
// directory.
const ControlSocket = "sluice.sock"

// controlPath is where dir's control socket lives.
func controlPath(dir string) string { return filepath.Join(dir, ControlSocket) }

// listenControl listens on dir's control socket, for this user only. The
// caller owns the data (it holds the data file's lock), so a socket file
// left behind by a gateway that crashed is its to replace.
func listenControl(dir string) (net.Listener, error) {
	path := controlPath(dir)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove the stale control socket %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on the control socket %s (a shorter --data path may help): %w", path, err)
	}
	// The directory is already user-only; the socket is too.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("make the control socket user-only: %w", err)
	}
	return ln, nil
}

// controlHandler serves the JSON API on the control socket: a request
// that came through it is the user's own.
func controlHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			http.NotFound(w, r)
			return
		}
		ctx := context.WithValue(r.Context(), trustedKey{}, true)
		if r.Header.Get(windowHeader) == "" {
			ctx = CommandLine(ctx)
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Dial returns the API of the gateway running on dir, reached over its
// control socket, or an error when none answers there.
func Dial(dir string) (*Remote, error) {
	path := controlPath(dir)
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil, fmt.Errorf("no gateway answers on %s: %w", path, err)
	}
	c.Close()
	return &Remote{Socket: path}, nil
}

// socketTransport is an HTTP transport whose every connection goes to the
// Unix socket at path.
func socketTransport(path string) *http.Transport {
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns:    4,
		IdleConnTimeout: 30 * time.Second,
	}
}
