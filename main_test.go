package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/app"
	"github.com/sluicehq/sluice/gateway"
	bolt "go.etcd.io/bbolt"
)

// sluice runs one command line in-process and returns its output.
func sluice(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

// serveForTest runs `sluice serve` in-process on a free port, with
// --data dir and args, until stop or the end of t. It returns what serve
// wrote in serve.json once it has, and stop, which ends serve and returns
// its error, or says it did not end within 10 seconds.
func serveForTest(t *testing.T, dir string, args ...string) (si app.ServeInfo, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, args...), strings.NewReader(""), io.Discard, io.Discard)
	}()
	var (
		once sync.Once
		err  error
	)
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				err = errors.New("serve did not shut down")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var rerr error
		if si, rerr = app.ReadServeInfo(dir); rerr == nil {
			return si, stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve wrote no serve.json: %v", rerr)
		}
	}
}

// post sends a JSON body to url with a bearer token and returns the
// answer's status and body.
func post(t *testing.T, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestCLIWithoutGateway(t *testing.T) {
	dir := t.TempDir()
	// Flags before and after the arguments.
	out, _, err := sluice(t, "", "token", "--data", dir, "new", "laptop")
	if err != nil || !strings.HasPrefix(out, "sk-sluice-") {
		t.Fatalf("token new = %q, %v; want a token", out, err)
	}
	if _, _, err := sluice(t, "", "token", "new", "laptop", "--data", dir); err == nil {
		t.Errorf("token new with a name in use succeeded, want an error")
	}
	out, _, err = sluice(t, "", "token", "ls", "--data", dir)
	if err != nil || !strings.Contains(out, "laptop") || strings.Contains(out, "sk-sluice-") {
		t.Errorf("token ls = %q, %v; want the name and never the secret", out, err)
	}
	if _, _, err := sluice(t, "", "budget", "set", "--limit", "5", "--period", "day", "--data", dir); err != nil {
		t.Fatalf("budget set: %v", err)
	}
	// Setting it again by the same name changes it.
	if _, _, err := sluice(t, "", "budget", "set", "--limit", "7.5", "--period", "day", "--data", dir); err != nil {
		t.Fatalf("budget set again: %v", err)
	}
	out, _, err = sluice(t, "", "budget", "ls", "--json", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	var bs []struct {
		Name  string `json:"name"`
		Limit string `json:"limit_usd"`
	}
	if err := json.Unmarshal([]byte(out), &bs); err != nil || len(bs) != 1 || bs[0].Limit != "7.5" {
		t.Errorf("budget ls --json = %s (%v), want one budget of 7.5", out, err)
	}
	out, _, err = sluice(t, "", "log", "--json", "--data", dir)
	if err != nil || out != "" {
		t.Errorf("log --json on an empty ledger = %q, %v; want nothing", out, err)
	}
	out, _, err = sluice(t, "", "prices", "ls", "--json", "--data", dir)
	if err != nil || !strings.Contains(out, `"gpt-4o-mini"`) {
		t.Errorf("prices ls --json: %v, want the embedded table", err)
	}
	// The table's date and its sources head the list; rates beyond the
	// columns (audio, off-peak, tiers) are named on each row.
	out, _, err = sluice(t, "", "prices", "ls", "--data", dir)
	for _, want := range []string{"price table of 2026-", "from genai-prices: github.com/pydantic/genai-prices", "from litellm: ",
		"audio in 32", "off-peak 16:30-00:30 UTC", ">272k"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("prices ls: %v, output lacks %q", err, want)
		}
	}
	// Flags before the command, too.
	out, _, err = sluice(t, "", "--data", dir, "token", "ls")
	if err != nil || !strings.Contains(out, "laptop") {
		t.Errorf("sluice --data D token ls = %q, %v", out, err)
	}
	if _, _, err := sluice(t, "", "frobnicate"); !errors.Is(err, errUsage) {
		t.Errorf("unknown command: %v, want a usage error", err)
	}
}

func TestCLIThroughRunningGateway(t *testing.T) {
	dir := t.TempDir()
	si, stop := serveForTest(t, dir)
	if fi, err := os.Stat(filepath.Join(dir, app.ServeInfoFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("serve.json mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}

	// Commands go through the running gateway (the data file is locked).
	start := time.Now()
	out, _, err := sluice(t, "", "token", "new", "ci", "--data", dir)
	if err != nil || !strings.HasPrefix(out, "sk-sluice-") {
		t.Fatalf("token new through the gateway = %q, %v", out, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("token new took %v through the gateway", d)
	}
	// Aliases go through the gateway too, refusals and all.
	if out, _, err := sluice(t, "", "alias", "set", "fast", "gpt-5-mini", "--data", dir); err != nil || !strings.Contains(out, "alias fast → gpt-5-mini") {
		t.Errorf("alias set through the gateway = %q, %v", out, err)
	}
	if _, _, err := sluice(t, "", "alias", "set", "slow", "gtp-5", "--data", dir); err == nil || !strings.Contains(err.Error(), "write it as provider/model") {
		t.Errorf("alias set with a typo through the gateway = %v, want the gateway's refusal", err)
	}
	// A name that differs only in case comes back over the socket as the
	// store's typed refusal, and the CLI adds its own command.
	if _, _, err := sluice(t, "", "alias", "set", "FAST", "gpt-5", "--data", dir); err == nil ||
		!strings.HasSuffix(err.Error(), "alias fast exists, and FAST is the same name in other letters: change it as fast, or remove it first (sluice alias rm fast)") {
		t.Errorf("alias set FAST through the gateway = %v, want the case refusal with the CLI's command", err)
	}
	if out, _, err := sluice(t, "", "alias", "ls", "--data", dir); err != nil || !strings.Contains(out, "fast") || strings.Contains(out, "slow") {
		t.Errorf("alias ls through the gateway = %q, %v", out, err)
	}

	// The new token works at once on provider routes: an unknown one gets
	// 401, a known one gets past authentication (no key stored: 401 that
	// says so).
	req, _ := http.NewRequest(http.MethodPost, "http://"+si.Addr+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o-mini","messages":[]}`))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(out))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(b), "sluice key set openai") {
		t.Errorf("request with the new token = %d %s, want 401 saying to add an openai key", resp.StatusCode, b)
	}

	// log --follow prints each request as it settles: a budget refusal of
	// a request that brought its own provider key.
	if _, _, err := sluice(t, "", "budget", "set", "--limit", "0.000001", "--period", "day", "--data", dir); err != nil {
		t.Fatal(err)
	}
	fctx, stopFollow := context.WithCancel(context.Background())
	followed := make(chan string, 1)
	go func() {
		var out bytes.Buffer
		run(fctx, []string{"log", "--follow", "--json", "-n", "0", "--data", dir}, strings.NewReader(""), &out, io.Discard)
		followed <- out.String()
	}()
	time.Sleep(300 * time.Millisecond) // let it subscribe
	req, _ = http.NewRequest(http.MethodPost, "http://"+si.Addr+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o-mini","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer sk-proj-callersOwnKey000000000000T3BlbkFJcallersOwnKey")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 402 {
		t.Errorf("request past the budget = %d, want 402", resp.StatusCode)
	}
	time.Sleep(300 * time.Millisecond)
	stopFollow()
	if out := <-followed; !strings.Contains(out, `"outcome":"refused"`) || !strings.Contains(out, `"token":"client key"`) {
		t.Errorf("log --follow --json printed %q, want the refusal", out)
	}

	// The control socket is the user's only.
	if fi, err := os.Stat(filepath.Join(dir, app.ControlSocket)); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("control socket mode = %v, %v; want a socket, 0600", fi.Mode(), err)
	}
	// The admin API on TCP refuses requests without a session, whatever
	// they carry, and browsers.
	for _, hdr := range []map[string]string{{}, {"Authorization": "Bearer x"}, {"Origin": "http://evil.example"}} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+si.Addr+"/api/tokens", nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("admin API with %v = %d, want 401", hdr, resp.StatusCode)
		}
	}

	// A second gateway on the same data fails fast and says why.
	start = time.Now()
	_, _, err = sluice(t, "", "serve", "--addr", "127.0.0.1:0", "--data", dir)
	if !errors.Is(err, app.ErrRunning) || time.Since(start) > 2*time.Second {
		t.Errorf("second serve = %v after %v, want ErrRunning within a second or so", err, time.Since(start))
	}

	if err := stop(); err != nil {
		t.Errorf("serve ended with %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, app.ServeInfoFile)); !os.IsNotExist(err) {
		t.Errorf("serve.json left behind after shutdown")
	}
	if _, err := os.Stat(filepath.Join(dir, app.ControlSocket)); !os.IsNotExist(err) {
		t.Errorf("control socket left behind after shutdown")
	}
	// With the gateway gone, commands open the data themselves.
	out, _, err = sluice(t, "", "token", "ls", "--data", dir)
	if err != nil || !strings.Contains(out, "ci") {
		t.Errorf("token ls after shutdown = %q, %v", out, err)
	}
}

// TestCLIPause pauses a running gateway from the command line: a token's
// pause, a pause of everything that ends by itself, and resume.
func TestCLIPause(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c1","object":"chat.completion","model":"llama3","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`)
	}))
	t.Cleanup(up.Close) // after serve has stopped
	dir := t.TempDir()
	si, stop := serveForTest(t, dir, "--upstream", "ollama="+up.URL+"/v1")
	secrets := map[string]string{}
	for _, name := range []string{"ci", "laptop"} {
		out, _, err := sluice(t, "", "token", "new", name, "--data", dir)
		if err != nil {
			t.Fatal(err)
		}
		secrets[name] = strings.TrimSpace(out)
	}
	call := func(token, question string) (int, string) {
		t.Helper()
		return post(t, "http://"+si.Addr+"/ollama/v1/chat/completions", secrets[token], `{"model":"llama3","messages":[{"role":"user","content":"`+question+`"}]}`)
	}
	if code, body := call("ci", "one"); code != 200 {
		t.Fatalf("call before any pause: %d %s", code, body)
	}

	out, _, err := sluice(t, "", "pause", "--token", "ci", "--data", dir)
	if err != nil || !strings.Contains(out, `paused token "ci" until sluice resume`) {
		t.Fatalf("pause --token ci = %q, %v", out, err)
	}
	if code, body := call("ci", "two"); code != 402 || !strings.Contains(body, `paused token \"ci\"`) {
		t.Errorf("ci while paused: %d %s, want 402 naming the pause", code, body)
	}
	if code, body := call("laptop", "three"); code != 200 {
		t.Errorf("laptop while ci is paused: %d %s, want 200", code, body)
	}
	if _, _, err := sluice(t, "", "pause", "--token", "nosuch", "--data", dir); err == nil {
		t.Errorf("pause --token nosuch succeeded, want an error")
	}

	// A pause of everything for two seconds ends by itself; the token's
	// pause stays until resumed.
	out, _, err = sluice(t, "", "pause", "--for", "2s", "--data", dir)
	if err != nil || !strings.Contains(out, "paused every request until") {
		t.Fatalf("pause --for 2s = %q, %v", out, err)
	}
	if code, body := call("laptop", "four"); code != 402 || !strings.Contains(body, "Sluice is paused") {
		t.Errorf("laptop during the pause of everything: %d %s, want 402", code, body)
	}
	// The refusal is written just after it is answered.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, _, _ := sluice(t, "", "log", "--json", "-n", "1", "--data", dir)
		if strings.Contains(st, `"reason":"pause"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the refusal's log row %s has no reason pause", st)
			break
		}
	}
	time.Sleep(2100 * time.Millisecond)
	if code, body := call("laptop", "five"); code != 200 {
		t.Errorf("laptop after the pause ran out: %d %s, want 200", code, body)
	}
	if code, _ := call("ci", "six"); code != 402 {
		t.Errorf("ci after the other pause ran out: %d, want 402 (its own pause lasts)", code)
	}

	out, _, err = sluice(t, "", "resume", "--data", dir)
	if err != nil || !strings.Contains(out, `resumed token "ci"`) {
		t.Errorf("resume = %q, %v", out, err)
	}
	if code, body := call("ci", "seven"); code != 200 {
		t.Errorf("ci after resume: %d %s, want 200", code, body)
	}
	out, _, _ = sluice(t, "", "resume", "--data", dir)
	if !strings.Contains(out, "nothing was paused") {
		t.Errorf("resume with nothing paused = %q", out)
	}

	// A pause outlives a restart.
	sluice(t, "", "pause", "--token", "laptop", "--data", dir)
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	os.Remove(filepath.Join(dir, app.ServeInfoFile))
	si, _ = serveForTest(t, dir, "--upstream", "ollama="+up.URL+"/v1")
	if code, _ := call("laptop", "eight"); code != 402 {
		t.Errorf("laptop after a restart while paused: %d, want 402", code)
	}

	// Loop allowance and the rpm cap from the command line.
	if out, _, err := sluice(t, "", "loop", "allow", "ci", "--data", dir); err != nil || !strings.Contains(out, `token "ci" may repeat requests until`) {
		t.Errorf("loop allow ci = %q, %v", out, err)
	}
	for i := 0; i < 12; i++ {
		if code, body := call("ci", "same again"); code != 200 {
			t.Fatalf("allowed repeat %d: %d %s", i+1, code, body)
		}
	}
	if out, _, err := sluice(t, "", "token", "rpm", "ci", "2", "--data", dir); err != nil || !strings.Contains(out, "at most 2 requests a minute") {
		t.Errorf("token rpm ci 2 = %q, %v", out, err)
	}
	call("ci", "a")
	call("ci", "b")
	if code, body := call("ci", "c"); code != 429 || !strings.Contains(body, "2 requests a minute") {
		t.Errorf("third call in a minute with a cap of 2: %d %s, want 429", code, body)
	}
}

func TestEnvExports(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SLUICE_TOKEN", "")
	out, _, err := sluice(t, "", "env", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"export OPENAI_BASE_URL='http://127.0.0.1:4020/v1'", "export ANTHROPIC_BASE_URL='http://127.0.0.1:4020'", "export OPENAI_API_KEY='sk-sluice-", "GEMINI_API_KEY"} {
		if !strings.Contains(out, want) {
			t.Errorf("env output lacks %q:\n%s", want, out)
		}
	}
	out, _, err = sluice(t, "", "env", "--shell", "fish", "--data", dir)
	if err != nil || !strings.Contains(out, "set -gx OPENAI_BASE_URL") || !strings.Contains(out, `"shell-2"`) {
		t.Errorf("env --shell fish = %q, %v; want set -gx lines and a second token", out, err)
	}
	t.Setenv("SLUICE_TOKEN", "sk-sluice-reuse")
	out, _, err = sluice(t, "", "env", "--shell", "powershell", "--data", dir)
	if err != nil || !strings.Contains(out, "$env:OPENAI_API_KEY = 'sk-sluice-reuse'") {
		t.Errorf("env --shell powershell = %q, %v; want the token reused", out, err)
	}
}

// TestHelpIsNoError: every command answers -h and --help with its usage
// on stdout, status 0, and no error line.
func TestHelpIsNoError(t *testing.T) {
	dir := t.TempDir()
	var lines [][]string
	for cmd := range commands {
		for _, h := range []string{"-h", "--help"} {
			lines = append(lines, []string{cmd, h}, []string{cmd, h, "--data", dir})
		}
	}
	lines = append(lines, []string{"--help"}, []string{"-h"}, []string{"--data", dir, "--help"},
		[]string{"--hidden", "-h"}, []string{"key", "set", "--help"}, []string{"budget", "raise", "x", "-h"})
	for _, args := range lines {
		out, errOut, err := sluice(t, "", args...)
		if err != nil || errOut != "" || !strings.Contains(out, "sluice") {
			t.Errorf("sluice %s = %v, stderr %q, stdout %q; want status 0, usage on stdout, nothing on stderr",
				strings.Join(args, " "), err, errOut, out)
		}
	}
	// The help's provider list and loop defaults are the gateway's.
	out, _, _ := sluice(t, "", "help")
	flat := strings.Join(strings.Fields(out), " ")
	for name := range gateway.DefaultProviders() {
		if !strings.Contains(flat, " "+name+" ") && !strings.Contains(flat, " "+name+".") {
			t.Errorf("sluice help does not name provider %s", name)
		}
	}
	if want := fmt.Sprintf("identical requests past %d within %d minutes", gateway.DefaultLoopLimit, int(gateway.DefaultLoopWindow/time.Minute)); !strings.Contains(flat, want) {
		t.Errorf("sluice help does not say %q", want)
	}
	out, _, _ = sluice(t, "", "budget", "set", "-h")
	if want := fmt.Sprintf("(default %d)", gateway.DefaultSoft); !strings.Contains(out, want) {
		t.Errorf("sluice budget set -h does not say %q:\n%s", want, out)
	}
	// A flag that does not exist is still an error.
	if _, _, err := sluice(t, "", "key", "--nope"); !errors.Is(err, errUsage) {
		t.Errorf("key --nope = %v, want a usage error", err)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, _, err := sluice(t, "", args...)
		b := app.BuildInfo()
		if err != nil || strings.TrimSpace(out) != b.String() || !strings.Contains(out, "headless build") {
			t.Errorf("sluice %s = %q, %v; want %q", args[0], out, err, b.String())
		}
	}
	out, _, err := sluice(t, "", "version", "--json")
	var b app.Build
	if err != nil || json.Unmarshal([]byte(out), &b) != nil || b.Version == "" || b.Desktop || b.Platform == "" {
		t.Errorf("version --json = %q, %v; want the build as JSON", out, err)
	}
}

func TestSettingsBackgroundHold(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := sluice(t, "", "settings", "set", "background_hold_hours", "2", "--data", dir); err != nil {
		t.Fatal(err)
	}
	out, _, err := sluice(t, "", "settings", "--json", "--data", dir)
	if err != nil || !strings.Contains(out, `"background_hold_hours": 2`) && !strings.Contains(out, `"background_hold_hours":2`) {
		t.Errorf("settings --json = %s, %v; want background_hold_hours 2", out, err)
	}
	if _, _, err := sluice(t, "", "settings", "set", "background_hold_hours", "-1", "--data", dir); err == nil {
		t.Errorf("settings set background_hold_hours -1 succeeded, want an error")
	}
}

// TestAllowKeyTo: a built-in provider's key goes elsewhere only when the
// command line confirms the host.
func TestAllowKeyTo(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := sluice(t, "", "settings", "set", "upstream.mistral", "http://127.0.0.1:9/v1", "--data", dir); err == nil || !strings.Contains(err.Error(), "--allow-key-to 127.0.0.1:9") {
		t.Errorf("settings set upstream.mistral elsewhere without confirmation = %v, want refused, naming the flag", err)
	}
	if _, _, err := sluice(t, "", "settings", "set", "upstream.mistral", "http://127.0.0.1:9/v1", "--allow-key-to", "evil.example", "--data", dir); !errors.Is(err, errUsage) {
		t.Errorf("--allow-key-to a host other than the URL's = %v, want a usage error", err)
	}
	if _, _, err := sluice(t, "", "settings", "set", "upstream.mistral", "http://127.0.0.1:9/v1", "--allow-key-to", "127.0.0.1:9", "--data", dir); err != nil {
		t.Fatalf("settings set upstream.mistral --allow-key-to: %v", err)
	}
	out, _, err := sluice(t, "", "settings", "--data", dir)
	if err != nil || !strings.Contains(out, "allow_key_to   127.0.0.1:9") && !strings.Contains(out, "127.0.0.1:9") {
		t.Errorf("settings = %q, %v; want the confirmed host", out, err)
	}
	// Keyless local servers need no confirmation; the official address
	// neither.
	for _, kv := range [][2]string{{"upstream.ollama", "http://10.0.0.2:11434/v1"}, {"upstream.openai", "https://api.openai.com/v1"}} {
		if _, _, err := sluice(t, "", "settings", "set", kv[0], kv[1], "--data", dir); err != nil {
			t.Errorf("settings set %s %s: %v", kv[0], kv[1], err)
		}
	}
}

// TestSavedUpstreamNameNowRefused: a data file whose settings hold an
// upstream under a name the provider rule refuses (an older store took
// "my_server") starts no gateway, with an error that names it and says
// what to type; the CLI removes it, and nothing else is lost.
func TestSavedUpstreamNameNowRefused(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := sluice(t, "", "settings", "set", "retention_days", "9", "--data", dir); err != nil {
		t.Fatal(err)
	}
	// Write the old settings as an older version saved them.
	bdb, err := bolt.Open(filepath.Join(dir, app.DataFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket([]byte("meta"))
		var set map[string]any
		if err := json.Unmarshal(m.Get([]byte("settings")), &set); err != nil {
			return err
		}
		set["upstreams"] = map[string]string{"my_server": "http://127.0.0.1:9/v1"}
		b, _ := json.Marshal(set)
		return m.Put([]byte("settings"), b)
	})
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}

	_, _, err = sluice(t, "", "serve", "--addr", "127.0.0.1:0", "--data", dir)
	if err == nil || !strings.Contains(err.Error(), `"my_server"`) || !strings.Contains(err.Error(), "sluice settings set upstream.NAME default") {
		t.Fatalf("serve with upstream my_server saved = %v, want an error naming it and saying how to remove it", err)
	}
	out, _, err := sluice(t, "", "settings", "--json", "--data", dir)
	if err != nil || !strings.Contains(out, "my_server") {
		t.Fatalf("settings = %s, %v; want the saved upstream kept as it was", out, err)
	}
	if _, _, err := sluice(t, "", "settings", "set", "upstream.my_server", "default", "--data", dir); err != nil {
		t.Fatalf("settings set upstream.my_server default: %v", err)
	}
	if _, _, err := sluice(t, "", "settings", "set", "upstream.my-server", "http://127.0.0.1:9/v1", "--data", dir); err != nil {
		t.Fatalf("settings set upstream.my-server: %v", err)
	}
	out, _, err = sluice(t, "", "settings", "--json", "--data", dir)
	if err != nil || strings.Contains(out, "my_server") || !strings.Contains(out, `"my-server"`) || !strings.Contains(out, `"retention_days": 9`) {
		t.Errorf("settings after the fix = %s, %v; want my-server, no my_server, and the rest as it was", out, err)
	}
	if _, _, err := sluice(t, "", "--upstream", "my_server=http://127.0.0.1:9/v1", "serve", "--data", dir); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "lower-case letters") {
		t.Errorf("serve --upstream my_server=... = %v, want a usage error saying what a name is", err)
	}
}

// TestSettingsFallbackAfter: how long an alias's target has to send its
// first byte before the fallback is tried is a setting, shown by
// `sluice settings`.
func TestSettingsFallbackAfter(t *testing.T) {
	dir := t.TempDir()
	out, _, err := sluice(t, "", "settings", "--data", dir)
	if err != nil || !strings.Contains(out, "fallback_after") || !strings.Contains(out, "1m0s (default)") {
		t.Errorf("settings = %s, %v; want fallback_after 1m0s (default)", out, err)
	}
	if _, _, err := sluice(t, "", "settings", "set", "fallback_after", "45s", "--data", dir); err != nil {
		t.Fatal(err)
	}
	if out, _, err = sluice(t, "", "settings", "--json", "--data", dir); err != nil || !strings.Contains(strings.ReplaceAll(out, " ", ""), `"fallback_after_s":45`) {
		t.Errorf("settings --json = %s, %v; want fallback_after_s 45", out, err)
	}
	if _, _, err := sluice(t, "", "settings", "set", "fallback_after", "10ms", "--data", dir); err == nil {
		t.Error("settings set fallback_after 10ms succeeded, want an error")
	}
	if _, _, err := sluice(t, "", "settings", "set", "fallback_after", "off", "--data", dir); err != nil {
		t.Fatal(err)
	}
	if out, _, _ = sluice(t, "", "settings", "--data", dir); !strings.Contains(out, "off") {
		t.Errorf("settings after off = %s", out)
	}
}
