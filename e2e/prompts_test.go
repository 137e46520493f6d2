package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPromptsPageInBrowser drives the Prompts page of `sluice serve` in
// headless Chromium (frontend/tests/prompts.test.mjs): create a prompt and
// watch its live preview, try it, see its row in the prompt list and in
// the request log, call the endpoint with a local token as a script would,
// and restore an earlier version.
func TestPromptsPageInBrowser(t *testing.T) {
	node := requireNode(t)
	requireTool(t, "chromium", "apt-get install chromium")
	script := filepath.Join("..", "frontend", "tests", "prompts.test.mjs")
	if _, err := os.Stat(filepath.Join("..", "frontend", "node_modules", "playwright-core")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("frontend/node_modules/playwright-core is missing: run npm ci in frontend/")
		}
		t.Skip("skipping: playwright-core is not installed (npm ci in frontend/)")
	}
	f, s, token := sluiceSetup(t)
	link := strings.TrimSpace(s.mustCLI("", "login"))
	shots := os.Getenv("SLUICE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", script)
	cmd.Env = append(os.Environ(),
		"SLUICE_URL="+link,
		"SLUICE_ADDR="+strings.TrimPrefix(s.url, "http://"),
		"SLUICE_TOKEN="+token,
		"SLUICE_SCREENSHOTS="+shots,
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("prompts.test.mjs:\n%s", out.String())
	if err != nil {
		t.Fatalf("the Prompts page's browser test failed: %v", err)
	}
	if strings.Contains(out.String(), "# skipped") && !strings.Contains(out.String(), "# skipped 0") {
		t.Fatalf("the Prompts page's browser test skipped tests")
	}

	// What the page did reached the fake OpenAI upstream as chat
	// completions with the inputs filled in, and is in the ledger with the
	// prompt's name.
	sent := ""
	for _, r := range f["openai"].requests() {
		if r.Path == "/v1/chat/completions" {
			sent += string(r.Body) + "\n"
		}
	}
	if !strings.Contains(sent, `Summarize for a {{text}}:\n\nNotes: the gate was opened at noon.`) {
		t.Errorf("the upstream never got the rendered prompt; it got:\n%s", sent)
	}
	log := s.mustCLI("", "log", "--json")
	for _, want := range []string{`"prompt":"summarize"`, `"token":"dashboard"`, `"prompt":"tldr"`, `"token":"e2e"`} {
		if !strings.Contains(log, want) {
			t.Errorf("sluice log --json lacks %s:\n%s", want, log)
		}
	}
	ls := s.mustCLI("", "prompt", "ls")
	if !strings.Contains(ls, "summarize") || !strings.Contains(ls, "v3") || !strings.Contains(ls, "tldr") {
		t.Errorf("sluice prompt ls after the page's work:\n%s", ls)
	}
}
