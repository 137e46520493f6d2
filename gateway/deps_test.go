package gateway

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the design's rule: the request path depends on no
// storage, keyring or UI package, and outside the standard library on
// nothing at all.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/sluicehq/sluice/gateway" {
			t.Errorf("gateway depends on %s; it may use only the standard library", p)
		}
	}
}
