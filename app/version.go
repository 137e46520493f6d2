package app

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// What the packaging command stamps into a release build:
//
//	-ldflags "-X github.com/sluicehq/sluice/app.Version=v1.2.3
//	          -X github.com/sluicehq/sluice/app.Commit=0123abc
//	          -X github.com/sluicehq/sluice/app.BuildDate=2026-11-30T10:00:00Z"
//
// Left empty, they come from the Go build info: the module version and the
// version control revision and time that go build records.
var (
	Version   = ""
	Commit    = ""
	BuildDate = ""
)

// Build describes this binary.
type Build struct {
	Version string `json:"version"`          // v1.2.3, or "dev"
	Commit  string `json:"commit,omitempty"` // version control revision, shortened
	// Modified marks a build from a work tree with uncommitted changes.
	Modified bool   `json:"modified,omitempty"`
	Date     string `json:"date,omitempty"` // when it was built, RFC 3339, as stamped
	// Committed is the time of the commit it was built from, from the
	// build info, RFC 3339.
	Committed string `json:"committed,omitempty"`
	// Desktop is true for the desktop build (the window; built with the
	// desktop tag) and false for the headless one.
	Desktop  bool   `json:"desktop"`
	Go       string `json:"go"`       // the Go version it was built with
	Platform string `json:"platform"` // GOOS/GOARCH
}

// BuildInfo returns what this binary knows of its own build.
func BuildInfo() Build {
	b := Build{Version: Version, Commit: Commit, Date: BuildDate, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		b = b.from(bi)
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}

// from fills what the linker flags left empty from the build info.
func (b Build) from(bi *debug.BuildInfo) Build {
	if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = bi.Main.Version
	}
	stamped := b.Commit != ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "-tags":
			for _, tag := range strings.Split(s.Value, ",") {
				if tag == "desktop" || tag == "dev" {
					b.Desktop = true
				}
			}
		case "vcs.revision":
			if !stamped {
				b.Commit = s.Value
				if len(b.Commit) > 12 {
					b.Commit = b.Commit[:12]
				}
			}
		case "vcs.time":
			b.Committed = s.Value
		case "vcs.modified":
			if !stamped {
				b.Modified = s.Value == "true"
			}
		}
	}
	return b
}

// Kind is "desktop" or "headless".
func (b Build) Kind() string {
	if b.Desktop {
		return "desktop"
	}
	return "headless"
}

// String is the one line `sluice version` prints and the dashboard shows:
// "sluice v1.2.3 (0123abc, 2026-11-30, desktop build, go1.26.0 linux/amd64)".
func (b Build) String() string {
	parts := []string{}
	if b.Commit != "" {
		c := b.Commit
		if b.Modified {
			c += "+changes"
		}
		parts = append(parts, "commit "+c)
	}
	switch {
	case b.Date != "":
		parts = append(parts, "built "+b.Date)
	case b.Committed != "":
		parts = append(parts, "committed "+b.Committed)
	}
	parts = append(parts, b.Kind()+" build", b.Go+" "+b.Platform)
	return fmt.Sprintf("sluice %s (%s)", b.Version, strings.Join(parts, ", "))
}
