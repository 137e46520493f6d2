package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/app"
	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

func TestCLIAlias(t *testing.T) {
	dir := t.TempDir()
	out, _, err := sluice(t, "", "alias", "set", "claude-haiku-4-5-20251001", "openai/gpt-5-mini", "--fallback", "deepseek-chat", "--fallback", "anthropic/claude-haiku-4-5-20251001", "--over-soft", "gpt-5-nano", "--data", dir)
	if err != nil || out != "alias claude-haiku-4-5-20251001 → openai/gpt-5-mini, then deepseek-chat, then anthropic/claude-haiku-4-5-20251001; gpt-5-nano once a budget is past its soft threshold\n" {
		t.Fatalf("alias set = %q, %v", out, err)
	}
	if out, _, err = sluice(t, "", "alias", "set", "bg", "claude-haiku-4-5-20251001", "--data", dir); err != nil {
		t.Fatalf("alias set (to an alias) = %q, %v", out, err)
	}

	// Refusals say what is wrong and change nothing.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"set", "x", "gtp-5-mini"}, `target "gtp-5-mini": no provider is named so and the price table knows no such model; write it as provider/model`},
		{[]string{"set", "x", "nosuch/gpt-5"}, `target "nosuch/gpt-5"`},
		{[]string{"set", "claude-haiku-4-5-20251001", "bg"}, "aliases would loop: claude-haiku-4-5-20251001 → bg → claude-haiku-4-5-20251001"},
		{[]string{"set", "x", "openai/gpt-5", "--fallback", "openai/gpt-5"}, "names openai/gpt-5 twice"},
		{[]string{"rm", "nosuch"}, "not found"},
		{[]string{"set", "BG", "openai/gpt-5"}, "alias bg exists, and BG is the same name in other letters: change it as bg, or remove it first (sluice alias rm bg)"},
	} {
		_, _, err := sluice(t, "", append(append([]string{"alias"}, tc.args...), "--data", dir)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("alias %v = %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
	if _, _, err := sluice(t, "", "alias", "set", "x", "--data", dir); !errors.Is(err, errUsage) {
		t.Errorf("alias set without a target = %v, want a usage error", err)
	}

	out, _, err = sluice(t, "", "alias", "ls", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.HasPrefix(lines[1], "bg ") ||
		!strings.Contains(lines[2], "deepseek-chat, anthropic/claude-haiku-4-5-20251001") || !strings.HasSuffix(lines[2], "gpt-5-nano") {
		t.Errorf("alias ls =\n%s", out)
	}
	out, _, err = sluice(t, "", "alias", "ls", "--json", "--data", dir)
	var as []gateway.Alias
	if err != nil || json.Unmarshal([]byte(out), &as) != nil || len(as) != 2 || as[1].OverSoft != "gpt-5-nano" || len(as[1].Fallbacks) != 2 {
		t.Errorf("alias ls --json = %s, %v", out, err)
	}
	if out, _, err = sluice(t, "", "alias", "rm", "BG", "--data", dir); err != nil || out != "removed alias BG\n" {
		t.Errorf("alias rm = %q, %v", out, err)
	}
	if out, _, _ = sluice(t, "", "alias", "--data", dir); strings.Contains(out, "bg") || !strings.Contains(out, "claude-haiku-4-5-20251001") {
		t.Errorf("alias (ls) after rm =\n%s", out)
	}
}

func TestCLIConnectModel(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := sluice(t, "", "connect", "claude-code", "--model", "openai/gpt-5-mini", "--data", dir)
	if err != nil {
		t.Fatalf("connect claude-code --model = %v", err)
	}
	for _, want := range []string{"export ANTHROPIC_MODEL='claude-code'", "export ANTHROPIC_DEFAULT_HAIKU_MODEL='claude-code'", "export ANTHROPIC_AUTH_TOKEN='sk-sluice-"} {
		if !strings.Contains(out, want) {
			t.Errorf("connect claude-code --model printed no %s:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "alias claude-code → openai/gpt-5-mini") {
		t.Errorf("connect claude-code --model said on stderr:\n%s", errOut)
	}
	if out, _, _ := sluice(t, "", "alias", "ls", "--data", dir); !strings.Contains(out, "claude-code  openai/gpt-5-mini") {
		t.Errorf("alias ls after connect --model:\n%s", out)
	}
	if _, _, err := sluice(t, "", "connect", "codex", "--model", "gpt-5", "--data", dir); err == nil || !strings.Contains(err.Error(), "cannot choose its model") {
		t.Errorf("connect codex --model = %v", err)
	}
}

// TestCLILogShowsAlias: sluice log says which alias a row was asked for,
// and why its target served when it was not the alias's first.
func TestCLILogShowsAlias(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, app.DataFile), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, r := range []gateway.Record{
		{ID: "a1", Provider: "openai", Model: "gpt-5-mini", Status: 503, Outcome: gateway.OutcomeError, Alias: "smart", Routed: gateway.RoutedTarget, Attempt: 1},
		{ID: "a2", Provider: "mistral", Model: "mistral-small-latest", Status: 200, Outcome: gateway.OutcomeOK, Alias: "smart", Routed: gateway.RoutedFallback, Attempt: 2, After: "a1"},
	} {
		r.Time = now.Add(time.Duration(i) * time.Millisecond)
		if err := db.Settle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	out, _, err := sluice(t, "", "log", "--data", dir)
	if err != nil || !strings.Contains(out, "openai/gpt-5-mini (smart)") || !strings.Contains(out, "mistral/mistral-small-latest (smart, fallback)") {
		t.Errorf("sluice log = %v\n%s", err, out)
	}
}

// TestCLIConnectUndoSaysWhatStays: --undo restores the tool's file, and
// says that the tokens and the alias connect made stay, and how to
// remove them.
func TestCLIConnectUndoSaysWhatStays(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	settings := filepath.Join(home, ".claude", "settings.json")
	if err := os.MkdirAll(filepath.Dir(settings), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(settings, []byte(`{"env":{}}`), 0o600)
	os.WriteFile(settings+".before-sluice.none", nil, 0o600)
	out, _, err := sluice(t, "", "connect", "claude-code", "--undo")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"removed " + settings, "sluice token rm NAME", "sluice alias rm claude-code"} {
		if !strings.Contains(out, w) {
			t.Errorf("connect --undo said %q, want it to say %q", out, w)
		}
	}
	if _, err := os.Stat(settings); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("settings.json after --undo: %v, want it removed", err)
	}
}
