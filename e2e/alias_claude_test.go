package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

// TestClaudeCodeThroughAlias runs Claude Code set up only as `sluice
// connect claude-code --model TARGET` prints, with no --model of its own:
// every model it asks for is the alias claude-code, which Sluice sends to
// TARGET. On an Anthropic model the requests go on in Claude Code's own
// format; on an OpenAI model they reach the upstream in OpenAI's, and the
// tool call and its result make the round trip through the translation.
// Each request's row is the target's: its provider, model, tokens and
// price, with the alias it was asked for.
func TestClaudeCodeThroughAlias(t *testing.T) {
	claude := toolBinary(t, "claude")
	work := workDir(t)
	fake := newAgentFake(t, "Read", `{"file_path":"`+filepath.Join(work, "note.txt")+`"}`, "The note says the kettle is blue.")
	s := agentSluice(t, fake)
	seen := map[string]bool{}
	quiet := []string{"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1"}
	prices := gateway.DefaultPrices()

	for _, tc := range []struct {
		target, provider, model string
		paths                   []string // where the upstream may be asked, in the target's format
	}{
		{"anthropic/claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5", []string{"/v1/messages"}},
		{"openai/gpt-5-mini", "openai", "gpt-5-mini", []string{"/v1/chat/completions", "/v1/responses"}},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			recipe := s.mustCLI("", "connect", "claude-code", "--model", tc.target)
			env := exportLines(t, recipe)
			if !strings.Contains(strings.Join(env, "\n"), "ANTHROPIC_MODEL=claude-code") {
				t.Fatalf("the recipe sets no ANTHROPIC_MODEL:\n%s", recipe)
			}
			before := fake.count()
			nResults := len(fake.toolResults())
			res := runTool(t, 2*time.Minute, work, t.TempDir(), append(env, quiet...), claude, "-p", "What does note.txt say?")
			checkToolRoundTrip(t, fake, res)
			if len(fake.toolResults()) == nResults {
				t.Errorf("no new tool result reached the upstream")
			}
			if strings.Contains(res.stderr, "doesn't recognize the model") {
				t.Errorf("Claude Code still guesses the alias's context window (CLAUDE_CODE_MAX_CONTEXT_TOKENS):\n%s", res.stderr)
			}

			// The upstream was asked in the target's format, for the
			// target's model, never for the alias.
			reqs := fake.requests()[before:]
			if len(reqs) < 2 {
				t.Fatalf("the upstream got %d requests, want the tool call and its result", len(reqs))
			}
			for _, r := range reqs {
				if !strings.Contains(strings.Join(tc.paths, " "), r.Path) {
					t.Errorf("the upstream was asked at %s, want %v", r.Path, tc.paths)
					continue
				}
				var body struct {
					Model    string            `json:"model"`
					Messages []json.RawMessage `json:"messages"`
					System   json.RawMessage   `json:"system"`
				}
				if err := json.Unmarshal(r.Body, &body); err != nil || body.Model != tc.model {
					t.Errorf("the upstream was asked for model %q (%v), want %s", body.Model, err, tc.model)
				}
				if tc.provider == "openai" && (len(body.System) > 0 || strings.Contains(string(r.Body), `"tool_result"`)) {
					t.Errorf("an Anthropic-shaped body reached the OpenAI upstream:\n%.600s", r.Body)
				}
			}

			rows := s.newRows(seen, 2)
			for _, r := range rows {
				if r.Provider != tc.provider || r.Model != tc.model || r.Alias != "claude-code" || !strings.HasPrefix(r.Token, "claude-code") || r.Outcome != gateway.OutcomeOK {
					t.Errorf("row provider %s model %s alias %q token %q outcome %s, want %s %s through claude-code", r.Provider, r.Model, r.Alias, r.Token, r.Outcome, tc.provider, tc.model)
				}
				p, ok := prices.Lookup(tc.provider, tc.model)
				if !ok {
					t.Fatalf("no price for %s", tc.target)
				}
				want := p.Cost(gateway.Usage{InputTokens: r.InputTokens, OutputTokens: r.OutputTokens, CachedInputTokens: r.CachedInputTokens})
				got, err := gateway.ParseMoney(r.CostUSD)
				if err != nil || got != want || got <= 0 || r.InputTokens == 0 {
					t.Errorf("row cost %s for %d in, %d out; want %s at %s's price", r.CostUSD, r.InputTokens, r.OutputTokens, want, tc.target)
				}
			}
		})
	}
}
