package e2e

import (
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
	f, s, token := sluiceSetup(t)
	browserTest(t, s, browserScript{name: "prompts.test.mjs", timeout: 3 * time.Minute, env: []string{
		"SLUICE_ADDR=" + strings.TrimPrefix(s.url, "http://"),
		"SLUICE_TOKEN=" + token,
	}})

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
	for _, want := range []string{`"prompt":"summarize"`, `"token":"(dashboard)"`, `"prompt":"tldr"`, `"token":"e2e"`} {
		if !strings.Contains(log, want) {
			t.Errorf("sluice log --json lacks %s:\n%s", want, log)
		}
	}
	ls := s.mustCLI("", "prompt", "ls")
	if !strings.Contains(ls, "summarize") || !strings.Contains(ls, "v3") || !strings.Contains(ls, "tldr") {
		t.Errorf("sluice prompt ls after the page's work:\n%s", ls)
	}
}
