package app

import (
	"runtime/debug"
	"testing"
)

func TestBuildFrom(t *testing.T) {
	info := &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}, Settings: []debug.BuildSetting{
		{Key: "-tags", Value: "desktop,production,webkit2_41"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123"},
		{Key: "vcs.time", Value: "2026-11-30T09:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	tests := []struct {
		name  string
		stamp Build
		info  *debug.BuildInfo
		want  Build
	}{
		{"from the build info", Build{}, info,
			Build{Version: "v0.4.0", Commit: "0123456789ab", Modified: true, Committed: "2026-11-30T09:00:00Z", Desktop: true}},
		{"stamped wins", Build{Version: "v1.0.0", Commit: "feedface0123+changes", Date: "2026-12-01T00:00:00Z"}, info,
			Build{Version: "v1.0.0", Commit: "feedface0123+changes", Date: "2026-12-01T00:00:00Z", Committed: "2026-11-30T09:00:00Z", Desktop: true}},
		{"headless, no version control", Build{}, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			Build{}},
	}
	for _, tt := range tests {
		if got := tt.stamp.from(tt.info); got != tt.want {
			t.Errorf("%s: from = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestBuildString(t *testing.T) {
	b := Build{Version: "v1.2.3", Commit: "0123abc", Date: "2026-11-30T10:00:00Z", Desktop: true, Go: "go1.26.0", Platform: "linux/amd64"}
	if got, want := b.String(), "sluice v1.2.3 (commit 0123abc, built 2026-11-30T10:00:00Z, desktop build, go1.26.0 linux/amd64)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	b = Build{Version: "dev", Go: "go1.26.0", Platform: "windows/amd64"}
	if got, want := b.String(), "sluice dev (headless build, go1.26.0 windows/amd64)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
