package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPromptCommands(t *testing.T) {
	dir := t.TempDir()
	tmpl := filepath.Join(t.TempDir(), "summarize.txt")
	os.WriteFile(tmpl, []byte("Summarize in {{words}} words:\n{{text}}\n"), 0o600)
	out, _, err := sluice(t, "", "prompt", "set", "summarize", "--model", "gpt-4o-mini", "--template", tmpl, "--max-tokens", "300", "--data", dir)
	if err != nil || !strings.Contains(out, "summarize v1") || !strings.Contains(out, "words, text") || !strings.Contains(out, "POST /p/summarize") {
		t.Fatalf("prompt set = %q, %v", out, err)
	}
	// Setting again changes only what is given.
	out, _, err = sluice(t, "", "prompt", "set", "summarize", "--model", "claude-haiku-4-5", "--temperature", "0.3", "--data", dir)
	if err != nil || !strings.Contains(out, "summarize v2: claude-haiku-4-5") {
		t.Fatalf("prompt set again = %q, %v", out, err)
	}
	out, _, err = sluice(t, "", "prompt", "show", "summarize", "--data", dir)
	if err != nil || !strings.Contains(out, "Summarize in {{words}} words:") || !strings.Contains(out, "max tokens:  300") ||
		!strings.Contains(out, "temperature: 0.3") || !strings.Contains(out, "v1 ") || !strings.Contains(out, "v2 ") {
		t.Errorf("prompt show = %q, %v", out, err)
	}
	out, _, err = sluice(t, "", "prompt", "show", "summarize", "--version", "1", "--json", "--data", dir)
	var p struct {
		Version int
		Model   string
	}
	if err != nil || json.Unmarshal([]byte(out), &p) != nil || p.Version != 1 || p.Model != "gpt-4o-mini" {
		t.Errorf("prompt show --version 1 --json = %q, %v", out, err)
	}
	if _, _, err := sluice(t, "", "prompt", "set", "new-one", "--model", "gpt-4o-mini", "--data", dir); err == nil {
		t.Errorf("prompt set without a template succeeded")
	}
	if _, _, err := sluice(t, "", "prompt", "set", "Bad/Name", "--model", "gpt-4o-mini", "--template", "x", "--data", dir); err == nil {
		t.Errorf("prompt set with a bad name succeeded")
	}
	schema := filepath.Join(t.TempDir(), "s.json")
	os.WriteFile(schema, []byte(`{"type":"object","uniqueItems":true}`), 0o600)
	if _, _, err := sluice(t, "", "prompt", "set", "summarize", "--schema", schema, "--data", dir); err == nil || !strings.Contains(err.Error(), "uniqueItems") {
		t.Errorf("prompt set with an unsupported schema keyword = %v, want an error naming it", err)
	}
	os.WriteFile(schema, []byte(`{"type":`), 0o600)
	if _, _, err := sluice(t, "", "prompt", "set", "summarize", "--schema", schema, "--data", dir); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("prompt set with a schema that is not JSON = %v, want an error saying so", err)
	}
	out, _, err = sluice(t, "", "prompt", "rollback", "summarize", "--data", dir)
	if err != nil || !strings.Contains(out, "summarize v3: rollback to v1") {
		t.Errorf("prompt rollback = %q, %v", out, err)
	}
	if _, _, err := sluice(t, "", "prompt", "rm", "summarize", "--data", dir); err != nil {
		t.Fatal(err)
	}
	out, _, _ = sluice(t, "", "prompt", "ls", "--data", dir)
	if strings.Contains(out, "summarize") {
		t.Errorf("prompt ls after rm = %q", out)
	}
	// The command line, not the store, says how to bring it back.
	if _, _, err := sluice(t, "", "prompt", "show", "summarize", "--data", dir); err == nil || !strings.Contains(err.Error(), "`sluice prompt rollback summarize` restores it") {
		t.Errorf("prompt show after rm = %v, want an error saying how to restore it", err)
	}
	if _, _, err := sluice(t, "", "prompt", "rollback", "summarize", "--data", dir); err != nil {
		t.Fatal(err)
	}
	out, _, err = sluice(t, "", "prompt", "ls", "--data", dir)
	if err != nil || !strings.Contains(out, "summarize") || !strings.Contains(out, "v5") || !strings.Contains(out, "gpt-4o-mini") {
		t.Errorf("prompt ls after rollback = %q, %v; want summarize v5 on gpt-4o-mini", out, err)
	}
	// Running needs the gateway.
	if _, _, err := sluice(t, "hi", "prompt", "run", "summarize", "--var", "words=5", "--data", dir); err == nil || !strings.Contains(err.Error(), "sluice serve") {
		t.Errorf("prompt run without a gateway = %v, want an error saying to start one", err)
	}
}

func TestPromptRunThroughGateway(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("OPENAI_API_KEY", "sk-test-openai")
	var gotBody string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"A short summary."},"finish_reason":"stop"}],"usage":{"prompt_tokens":40,"completion_tokens":5,"total_tokens":45}}`)
	}))
	t.Cleanup(up.Close) // after serve has stopped

	dir := t.TempDir()
	si, _ := serveForTest(t, dir, "--upstream", "openai="+up.URL+"/v1")
	if _, _, err := sluice(t, "", "prompt", "set", "summarize", "--model", "gpt-4o-mini", "--template", "Summarize in {{words}} words:\n{{text}}", "--data", dir); err != nil {
		t.Fatal(err)
	}
	// stdin is the input "text".
	out, errOut, err := sluice(t, "Notes: {{words}} the meeting ran long.", "prompt", "run", "summarize", "--var", "words=5", "--data", dir)
	if err != nil || out != "A short summary.\n" || !strings.Contains(errOut, "summarize v1 · gpt-4o-mini · 40 in, 5 out · $") {
		t.Fatalf("prompt run = %q %q, %v", out, errOut, err)
	}
	if !strings.Contains(gotBody, `Summarize in 5 words:\nNotes: {{words}} the meeting ran long.`) {
		t.Errorf("upstream got %s, want the inputs filled in once", gotBody)
	}
	out, _, err = sluice(t, "", "log", "--json", "--data", dir)
	if err != nil || !strings.Contains(out, `"prompt":"summarize"`) || !strings.Contains(out, `"token":"(cli)"`) {
		t.Errorf("log = %q, want the call with its prompt, made by the cli", out)
	}

	// Over HTTP with a local token, as a script would.
	tok, _, err := sluice(t, "", "token", "new", "scripts", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	call := func() (int, string) {
		return post(t, "http://"+si.Addr+"/p/summarize", strings.TrimSpace(tok), `{"text":"notes","words":"3"}`)
	}
	if status, body := call(); status != 200 || !strings.Contains(body, `"output":"A short summary."`) || !strings.Contains(body, `"cost_usd":"0.`) {
		t.Errorf("POST /p/summarize = %d %s", status, body)
	}

	out, _, err = sluice(t, "", "spend", "--by", "prompt", "--data", dir)
	if err != nil || !strings.Contains(out, "summarize") || !strings.Contains(out, "ALL REQUESTS since") {
		t.Errorf("spend --by prompt = %q, %v", out, err)
	}

	// A budget on the prompt refuses its calls, and no others.
	if out, _, err := sluice(t, "", "budget", "set", "--limit", "0.000001", "--period", "day", "--prompt", "summarize", "--data", dir); err != nil || !strings.Contains(out, "prompt summarize") {
		t.Fatalf("budget set --prompt = %q, %v", out, err)
	}
	status, body := call()
	var e struct {
		Error struct{ Type, Message, Budget string }
	}
	json.Unmarshal([]byte(body), &e)
	if status != 402 || e.Error.Type != "budget_exceeded" || e.Error.Budget != "prompt-summarize-day" {
		t.Errorf("POST /p/summarize past its budget = %d %s, want 402 budget_exceeded by prompt-summarize-day", status, body)
	}
	if _, _, err := sluice(t, "x", "prompt", "run", "summarize", "--var", "words=5", "--data", dir); err == nil || !strings.Contains(err.Error(), "prompt-summarize-day") {
		t.Errorf("prompt run past its budget = %v, want the refusal", err)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+si.Addr+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("a plain request under the prompt's budget = %d, want 200", resp.StatusCode)
	}
	// The endpoints are described.
	resp, err = http.Get("http://" + si.Addr + "/p/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"/p/summarize"`) {
		t.Errorf("GET /p/openapi.json = %d %s", resp.StatusCode, b)
	}
}
