package e2e

import (
	"encoding/json"
	"testing"
	"time"
)

// TestAliasesPageInBrowser drives the Aliases page of `sluice serve` in
// headless Chromium (frontend/tests/aliases.test.mjs): make an alias with
// fallbacks and an over-soft target, see a typo and a loop refused in the
// dialog, edit one and remove another; run Claude Code on another model
// from the Connect page; then the command line sees what the pages did.
func TestAliasesPageInBrowser(t *testing.T) {
	_, s, _ := sluiceSetup(t)
	browserTest(t, s, browserScript{name: "aliases.test.mjs", timeout: 3 * time.Minute})

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
