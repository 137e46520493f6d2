package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConnectRecipes(t *testing.T) {
	for _, id := range ConnectTools() {
		r, err := ConnectRecipe(id, "http://127.0.0.1:4555/", "sk-sluice-abc")
		if err != nil {
			t.Fatalf("ConnectRecipe(%s) = %v", id, err)
		}
		if r.Verified == "" {
			t.Errorf("%s: recipe says nothing of how it was checked", id)
		}
		text, err := r.Text("sh")
		if err != nil {
			t.Fatal(err)
		}
		if id != "cursor" && !strings.Contains(text, "sk-sluice-abc") {
			t.Errorf("%s: recipe text carries no token:\n%s", id, text)
		}
		if id != "cursor" && !strings.Contains(text, "http://127.0.0.1:4555") {
			t.Errorf("%s: recipe text carries no address:\n%s", id, text)
		}
		if strings.Contains(text, "4555//") {
			t.Errorf("%s: doubled slash:\n%s", id, text)
		}
	}
	if _, err := ConnectRecipe("notatool", "http://x", "t"); err == nil {
		t.Error("ConnectRecipe(notatool) = nil error")
	}
	r, _ := ConnectRecipe("claude", "http://h", TokenPlaceholder)
	if text, _ := r.Text("sh"); !strings.Contains(text, `export ANTHROPIC_AUTH_TOKEN="$SLUICE_TOKEN"`) {
		t.Errorf("placeholder recipe:\n%s", text)
	}
	r, _ = ConnectRecipe("codex", "http://h", TokenPlaceholder)
	if !strings.Contains(r.File.Block, `env_key = "SLUICE_TOKEN"`) {
		t.Errorf("codex placeholder recipe reads no SLUICE_TOKEN:\n%s", r.File.Block)
	}
	r, _ = ConnectRecipe("openai", "http://h", TokenPlaceholder)
	if _, err := r.Text("tcsh"); err == nil {
		t.Error("Text(tcsh) = nil error")
	}
}

func TestSetCodexProvider(t *testing.T) {
	r, _ := ConnectRecipe("codex", "http://127.0.0.1:4020", "sk-sluice-x")
	cases := []struct {
		name, in     string
		keep, absent []string
	}{
		{"empty", "", nil, nil},
		{"root keys and tables", "# mine\nmodel = \"gpt-5.5\"\nmodel_provider = \"openai\"\n\n[profiles.a]\nmodel_provider = \"other\"\n",
			[]string{"# mine", `model = "gpt-5.5"`, "[profiles.a]", `model_provider = "other"`}, []string{`model_provider = "openai"`}},
		{"an older sluice table", "[model_providers.sluice]\nbase_url = \"http://old\"\n\n[model_providers.local]\nbase_url = \"http://l\"\n",
			[]string{"[model_providers.local]", `base_url = "http://l"`}, []string{"http://old"}},
		{"quoted header", "[model_providers.\"sluice\"]\nbase_url = \"http://old\"\n", nil, []string{"http://old"}},
		{"multi-line string", "instructions = \"\"\"\n[model_providers.sluice]\n\"\"\"\n", []string{"instructions = \"\"\"\n[model_providers.sluice]\n\"\"\""}, nil},
	}
	for _, c := range cases {
		out, err := setCodexProvider([]byte(c.in), r.File.Block)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		s := string(out)
		if !strings.HasPrefix(s, "model_provider = \"sluice\"\n") || strings.Count(s, "[model_providers.sluice]") != 1+strings.Count(c.in, "\"\"\"\n[model_providers.sluice]") {
			t.Errorf("%s: got\n%s", c.name, s)
		}
		for _, k := range c.keep {
			if !strings.Contains(s, k) {
				t.Errorf("%s: lost %q:\n%s", c.name, k, s)
			}
		}
		for _, a := range c.absent {
			if strings.Contains(s, a) {
				t.Errorf("%s: still has %q:\n%s", c.name, a, s)
			}
		}
		again, _ := setCodexProvider(out, r.File.Block)
		if string(again) != s {
			t.Errorf("%s: a second write changed the file:\n%s\nthen\n%s", c.name, s, again)
		}
	}
	if _, err := setCodexProvider([]byte("x = \"\"\"\nnever closed\n"), r.File.Block); err == nil {
		t.Error("unclosed multi-line string: nil error")
	}
}

func TestSetJSONPath(t *testing.T) {
	in := `{"model": "opus", "env": {"KEEP": "1", "ANTHROPIC_BASE_URL": "http://old"}, "hooks": {"a": [1, 2]}}`
	out, err := setJSONPath([]byte(in), []string{"env"}, envObject([]EnvVar{{"ANTHROPIC_BASE_URL", "http://new"}, {"ANTHROPIC_AUTH_TOKEN", "t"}}))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{`"model": "opus"`, `"KEEP": "1"`, `"ANTHROPIC_BASE_URL": "http://new"`, `"ANTHROPIC_AUTH_TOKEN": "t"`, `"hooks"`} {
		if !strings.Contains(s, want) {
			t.Errorf("lost %s:\n%s", want, s)
		}
	}
	if strings.Index(s, `"model"`) > strings.Index(s, `"env"`) || strings.Index(s, `"env"`) > strings.Index(s, `"hooks"`) {
		t.Errorf("members out of order:\n%s", s)
	}
	for _, bad := range []string{`{"env": `, `[1]`, `{"env": "x"}`, `{} {}`} {
		if _, err := setJSONPath([]byte(bad), []string{"env"}, nil); err == nil {
			t.Errorf("setJSONPath(%s) = nil error", bad)
		}
	}
}

func TestMergeJSONBlock(t *testing.T) {
	out, err := mergeJSONBlock([]byte(`{"theme": "x", "provider": {"openai": {"models": {"a": {}}, "options": {"timeout": 5}}}}`),
		`{"provider": {"openai": {"options": {"baseURL": "http://s/v1"}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"theme": "x"`, `"models"`, `"timeout": 5`, `"baseURL": "http://s/v1"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("lost %s:\n%s", want, out)
		}
	}
}

func TestSetYAMLKeys(t *testing.T) {
	in := "# aider\nmodel: openai/gpt-5.5\nopenai-api-base: http://old\nread:\n  - CONVENTIONS.md\n"
	out, err := setYAMLKeys([]byte(in), "openai-api-base: \"http://new\"\nopenai-api-key: \"k\"\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# aider\nmodel: openai/gpt-5.5\nopenai-api-base: \"http://new\"\nread:\n  - CONVENTIONS.md\nopenai-api-key: \"k\"\n"
	if string(out) != want {
		t.Errorf("setYAMLKeys =\n%s\nwant\n%s", out, want)
	}
}

func TestToolFilesWriteUndo(t *testing.T) {
	home := t.TempDir()
	tf := ToolFiles{Home: home, Getenv: func(string) string { return "" }}
	r, _ := ConnectRecipe("claude-code", "http://127.0.0.1:4020", "sk-sluice-1")
	path := filepath.Join(home, ".claude", "settings.json")

	// No file before: write makes it, undo removes it.
	if _, err := tf.Write(r); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || !strings.Contains(string(b), "sk-sluice-1") {
		t.Fatalf("after Write: %s, %v", b, err)
	}
	if _, err := tf.Undo("claude-code"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("after Undo the file Sluice made is still there: %v", err)
	}
	if _, err := tf.Undo("claude-code"); err == nil {
		t.Error("a second Undo = nil error")
	}

	// A file of the user's: two writes, one undo brings back the first.
	mine := "{\"model\": \"opus\"}\n"
	os.WriteFile(path, []byte(mine), 0o644)
	tf.Write(r)
	r2, _ := ConnectRecipe("claude-code", "http://127.0.0.1:4020", "sk-sluice-2")
	if _, err := tf.Write(r2); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "sk-sluice-2") || strings.Contains(string(b), "sk-sluice-1") || !strings.Contains(string(b), `"model": "opus"`) {
		t.Errorf("after two writes:\n%s", b)
	}
	if _, err := tf.Undo("claude-code"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != mine {
		t.Errorf("after Undo: %q, want %q", b, mine)
	}

	// A file Sluice cannot read is left alone.
	broken := "{\"model\": \n"
	os.WriteFile(path, []byte(broken), 0o644)
	if _, err := tf.Write(r); err == nil || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("Write over broken JSON = %v, want an error saying nothing changed", err)
	}
	if b, _ := os.ReadFile(path); string(b) != broken {
		t.Errorf("broken file changed to %q", b)
	}
	if _, err := os.Stat(path + backupSuffix); !os.IsNotExist(err) {
		t.Errorf("a failed write left a backup: %v", err)
	}

	// CODEX_HOME decides where Codex's config is.
	tf.Getenv = func(k string) string {
		if k == "CODEX_HOME" {
			return filepath.Join(home, "cx")
		}
		return ""
	}
	if p, _ := tf.Path("codex"); p != filepath.Join(home, "cx", "config.toml") {
		t.Errorf("Path(codex) = %s", p)
	}
	cr, _ := ConnectRecipe("cursor", "http://h", "t")
	if _, err := tf.Write(cr); err == nil {
		t.Error("Write(cursor) = nil error")
	}
}
