//go:build tools

// Package tools pins the versions of the programs that build and package
// Sluice: the Wails CLI (at the Wails version of the main go.mod) and nfpm.
// Build them from this folder, for example
//
//	cd tools && go build -o ../.cache/bin/wails github.com/wailsapp/wails/v2/cmd/wails
//
// They live in a module of their own so that their dependencies never
// reach the Sluice binary, and so that golang.org/x/tools can be newer than
// the one Wails v2.9.2 asks for: that one no longer compiles with current
// Go, which is why a plain go install of the Wails CLI fails.
package tools

import (
	_ "github.com/goreleaser/nfpm/v2/cmd/nfpm"
	_ "github.com/wailsapp/wails/v2/cmd/wails"
)
