package main

import (
	"embed"
	"io/fs"
)

// dist is the built dashboard (cd frontend && npm ci && npm run build).
//
//go:embed all:frontend/dist
var dist embed.FS

// dashboard returns the dashboard's files, index.html at the root.
func dashboard() fs.FS {
	sub, err := fs.Sub(dist, "frontend/dist")
	if err != nil {
		panic(err) // the path is a constant: this cannot fail
	}
	return sub
}
