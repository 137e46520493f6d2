package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAliasesPageInBrowser drives the Aliases page of `sluice serve` in
// headless Chromium (frontend/tests/aliases.test.mjs): make an alias with
// fallbacks and an over-soft target, see a typo and a loop refused in the
// dialog, edit one and remove another; run Claude Code on another model
// from the Connect page; then the command line sees what the pages did.
func TestAliasesPageInBrowser(t *testing.T) {
	node := requireNode(t)
	requireTool(t, "chromium", "apt-get install chromium")
	script := filepath.Join("..", "frontend", "tests", "aliases.test.mjs")
	if _, err := os.Stat(filepath.Join("..", "frontend", "node_modules", "playwright-core")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("frontend/node_modules/playwright-core is missing: run npm ci in frontend/")
		}
		t.Skip("skipping: playwright-core is not installed (npm ci in frontend/)")
	}
	_, s, _ := sluiceSetup(t)
	link := strings.TrimSpace(s.mustCLI("", "login"))
	shots := os.Getenv("SLUICE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", script)
	cmd.Env = append(os.Environ(), "SLUICE_URL="+link, "SLUICE_SCREENSHOTS="+shots)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("aliases.test.mjs:\n%s", out.String())
	if err != nil {
		t.Fatalf("the Aliases page's browser test failed: %v", err)
	}
	if strings.Contains(out.String(), "# skipped") && !strings.Contains(out.String(), "# skipped 0") {
		t.Fatalf("the Aliases page's browser test skipped tests")
	}

	var as []struct {
		Name      string   `json:"name"`
		Target    string   `json:"target"`
		Fallbacks []string `json:"fallbacks"`
		OverSoft  string   `json:"over_soft"`
	}
	ls := s.mustCLI("", "alias", "ls", "--json")
	if err := json.Unmarshal([]byte(ls), &as); err != nil {
		t.Fatalf("sluice alias ls --json: %v\n%s", err, ls)
	}
	if len(as) != 2 || as[0].Name != "claude-code" || as[0].Target != "openai/gpt-5-mini" ||
		as[1].Name != "claude-haiku-4-5-20251001" || as[1].Target != "openai/gpt-5" || len(as[1].Fallbacks) != 0 || as[1].OverSoft != "gpt-5-nano" {
		t.Errorf("sluice alias ls --json after the page's work = %s", ls)
	}
}
