package app

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

func testService(t *testing.T) *Service {
	t.Helper()
	db := testDB(t)
	return &Service{DB: db, Keyring: &store.Keyring{}}
}

// TestConnectClaudeCodeModel: `sluice connect claude-code --model TARGET`
// points the alias claude-code at TARGET, keeping its fallbacks, and the
// recipe sends every model Claude Code asks for to it.
func TestConnectClaudeCodeModel(t *testing.T) {
	s := testService(t)
	ctx := context.Background()
	if _, err := s.PutAlias(ctx, gateway.Alias{Name: "claude-code", Target: "anthropic/claude-sonnet-4-5", Fallbacks: []string{"openai/gpt-5-mini", "deepseek/deepseek-chat"}}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Connect(ctx, "claude", true, "gpt-5-mini")
	if err != nil {
		t.Fatalf("Connect(claude, gpt-5-mini) = %v", err)
	}
	a, _ := s.DB.Alias("claude-code")
	if a.Target != "gpt-5-mini" || strings.Join(a.Fallbacks, ",") != "deepseek/deepseek-chat" {
		// The new target leaves the fallbacks; the others stay.
		t.Errorf("alias after Connect = %+v", a)
	}
	env := map[string]string{}
	for _, v := range res.Recipe.Env {
		env[v.Name] = v.Value
	}
	for _, k := range []string{"ANTHROPIC_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL", "ANTHROPIC_DEFAULT_SONNET_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL"} {
		if env[k] != "claude-code" {
			t.Errorf("recipe sets %s=%q, want the alias claude-code", k, env[k])
		}
	}
	row, _ := gateway.DefaultPrices().Lookup("openai", "gpt-5-mini")
	if row.ContextWindow == 0 || env["CLAUDE_CODE_MAX_CONTEXT_TOKENS"] != itoa(row.ContextWindow) {
		t.Errorf("CLAUDE_CODE_MAX_CONTEXT_TOKENS=%q, want gpt-5-mini's window %d", env["CLAUDE_CODE_MAX_CONTEXT_TOKENS"], row.ContextWindow)
	}
	if _, ok := env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"]; ok {
		t.Errorf("CLAUDE_CODE_MAX_OUTPUT_TOKENS set for a model that takes more than Claude Code asks")
	}
	if !strings.HasPrefix(env["ANTHROPIC_AUTH_TOKEN"], gateway.LocalTokenPrefix) || res.TokenName != "claude-code" {
		t.Errorf("Connect made token %q, recipe token %q", res.TokenName, env["ANTHROPIC_AUTH_TOKEN"])
	}
	if !strings.Contains(res.Recipe.File.Block, `"ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-code"`) {
		t.Errorf("settings.json block lacks the model variables:\n%s", res.Recipe.File.Block)
	}
	if !strings.Contains(res.Text, "an alias Sluice sends to gpt-5-mini") || strings.Contains(res.Text, "max_tokens 128000") {
		t.Errorf("recipe text:\n%s", res.Text)
	}

	// A model whose output is less than Claude Code asks for: the
	// built-in table knows DeepSeek's.
	res, err = s.Connect(ctx, "claude-code", false, "deepseek/deepseek-chat")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Text, "export CLAUDE_CODE_MAX_OUTPUT_TOKENS='8192'") {
		t.Errorf("recipe for deepseek/deepseek-chat with the built-in prices:\n%s", res.Text)
	}
	s.DB.PutPriceOverrides([]gateway.Price{{Provider: "deepseek", Model: "deepseek-chat", Input: 1, Output: 1, ContextWindow: 64000, MaxOutput: 8192}})
	res, err = s.Connect(ctx, "claude-code", false, "deepseek-chat")
	if err != nil {
		t.Fatal(err)
	}
	if text := res.Text; !strings.Contains(text, "export CLAUDE_CODE_MAX_OUTPUT_TOKENS='8192'") || !strings.Contains(text, "export CLAUDE_CODE_MAX_CONTEXT_TOKENS='64000'") {
		t.Errorf("recipe for deepseek-chat:\n%s", text)
	}

	// Refused, and no alias changed: a target Sluice cannot reach, a tool
	// whose recipe cannot choose its model.
	if _, err := s.Connect(ctx, "claude-code", false, "gtp-5"); !errors.Is(err, gateway.ErrInvalidAlias) {
		t.Errorf("Connect(typo) = %v, want ErrInvalidAlias", err)
	}
	if _, err := s.Connect(ctx, "codex", false, "gpt-5"); !errors.Is(err, errNoModelChoice) {
		t.Errorf("Connect(codex, model) = %v, want errNoModelChoice", err)
	}
	if a, _ := s.DB.Alias("claude-code"); a.Target != "deepseek-chat" {
		t.Errorf("alias after refusals = %+v", a)
	}
	if _, ok := s.DB.Alias("codex"); ok {
		t.Error("a refused Connect set an alias for codex")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestPutAliasChecks: an alias named provider/model is refused (it could
// only hijack callers naming that provider), and a target whose provider
// has no key is accepted with a warning, shown again in the list.
func TestPutAliasChecks(t *testing.T) {
	s := testService(t)
	ctx := context.Background()
	_, err := s.PutAlias(ctx, gateway.Alias{Name: "openai/gpt-4.1", Target: "anthropic/claude-sonnet-4-5"})
	if !errors.Is(err, gateway.ErrInvalidAlias) || !strings.Contains(err.Error(), "provider openai") {
		t.Errorf("PutAlias(openai/gpt-4.1) = %v, want a refusal", err)
	}
	if _, ok := s.DB.Alias("openai/gpt-4.1"); ok {
		t.Error("the refused alias was stored")
	}
	t.Setenv(gateway.KeyEnvVars("xai")[0], "")
	a, err := s.PutAlias(ctx, gateway.Alias{Name: " nk\n", Target: "xai/grok-4", Fallbacks: []string{"ollama/llama3"}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "nk" || len(a.Warnings) != 1 || !strings.Contains(a.Warnings[0], "no xai key") {
		t.Errorf("PutAlias(no key) = %+v, want one warning about the xai key", a)
	}
	as, _ := s.Aliases(ctx)
	if len(as) != 1 || len(as[0].Warnings) != 1 {
		t.Errorf("Aliases() = %+v, want the warning", as)
	}
	if stored, _ := s.DB.Alias("nk"); stored.Warnings != nil {
		t.Errorf("warnings stored: %+v", stored)
	}
}
