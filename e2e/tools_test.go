package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

// The coding tools run here as their users run them, set up only as
// `sluice connect TOOL` says, against `sluice serve` and a fake upstream
// that makes the model call a tool of theirs. Each runs with a scratch
// HOME, a time limit, and HTTP(S)_PROXY pointing at a dead local port (the
// loopback exempt), so a tool that ignored its base URL would fail loudly
// instead of reaching a real provider.

// toolBinary is the path of a tool's command installed by npm ci, or skips
// (fails under CI=true) when it is missing.
func toolBinary(t *testing.T, name string) string {
	t.Helper()
	requireNode(t)
	p, err := filepath.Abs(filepath.Join("node_modules", ".bin", name))
	if err == nil {
		_, err = os.Stat(p)
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed in e2e/node_modules (npm ci): %v", name, err)
		}
		t.Skipf("skipping: %s is not installed in e2e/node_modules (run npm ci in e2e/)", name)
	}
	return p
}

// deadProxy is a local address where nothing listens.
func deadProxy(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// toolResult is how a tool's run ended.
type toolResult struct {
	stdout, stderr string
	err            error
	took           time.Duration
}

func (r toolResult) String() string {
	return "err: " + errString(r.err) + "\nstdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

func errString(err error) string {
	if err == nil {
		return "none"
	}
	return err.Error()
}

// runTool runs bin with args in dir under a time limit, with only env and
// the isolation every tool run gets.
func runTool(t *testing.T, limit time.Duration, dir, home string, env []string, bin string, args ...string) toolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	proxy := deadProxy(t)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TERM=dumb",
		"NO_COLOR=1",
		"HTTPS_PROXY=" + proxy, "HTTP_PROXY=" + proxy, "https_proxy=" + proxy, "http_proxy=" + proxy,
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost",
	}, env...)
	cmd.Stdin = strings.NewReader("")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = errors.Join(err, errors.New("killed at the time limit of "+limit.String()))
	}
	return toolResult{stdout: stdout.String(), stderr: stderr.String(), err: err, took: time.Since(start)}
}

// exportLines reads the `export NAME='value'` lines of a recipe.
func exportLines(t *testing.T, text string) []string {
	t.Helper()
	var env []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		l, ok := strings.CutPrefix(sc.Text(), "export ")
		if !ok {
			continue
		}
		name, val, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("recipe line %q is not NAME=VALUE", sc.Text())
		}
		if len(val) >= 2 && val[0] == '\'' && val[len(val)-1] == '\'' {
			val = strings.ReplaceAll(val[1:len(val)-1], `'\''`, "'")
		}
		env = append(env, name+"="+val)
	}
	if len(env) == 0 {
		t.Fatalf("recipe has no export lines:\n%s", text)
	}
	return env
}

// checkToolRows checks the ledger rows of a tool's run: at least want
// rows, each made with token, answered 200 and charged exactly its tokens
// at the price table's rates.
func checkToolRows(t *testing.T, rows []logRow, token, provider string, want int) {
	t.Helper()
	if len(rows) < want {
		t.Fatalf("%d ledger rows, want at least %d: %+v", len(rows), want, rows)
	}
	prices := gateway.DefaultPrices()
	for _, r := range rows {
		if r.Token != token || r.Provider != provider || r.Status != 200 || r.Outcome != gateway.OutcomeOK {
			t.Errorf("row token %q provider %q status %d outcome %q, want %s %s 200 ok", r.Token, r.Provider, r.Status, r.Outcome, token, provider)
		}
		if r.InputTokens != agentIn || (r.OutputTokens != agentOut && r.OutputTokens != agentTextOut) {
			t.Errorf("row %s tokens in %d out %d, want the fake's %d and %d or %d", r.Model, r.InputTokens, r.OutputTokens, agentIn, agentOut, agentTextOut)
		}
		p, ok := prices.Lookup(provider, r.Model)
		if !ok {
			t.Errorf("row model %q has no price", r.Model)
			continue
		}
		want := p.Cost(gateway.Usage{InputTokens: r.InputTokens, OutputTokens: r.OutputTokens})
		got, err := gateway.ParseMoney(r.CostUSD)
		if err != nil || got != want || got <= 0 {
			t.Errorf("row %s cost_usd %q, want %s", r.Model, r.CostUSD, want)
		}
	}
}

// agentSluice starts sluice serve in front of fake with the fake keys.
func agentSluice(t *testing.T, fake *agentFake) *sluice {
	t.Helper()
	mode := currentKeyMode()
	s := startSluice(t, sluiceEnv(t, mode), map[string]string{
		"openai":    fake.srv.URL + "/v1",
		"anthropic": fake.srv.URL,
		"gemini":    fake.srv.URL,
	})
	setKeys(t, s, mode)
	return s
}

const noteSecret = "the-kettle-is-blue-7731"

// workDir is a project directory with a note for the model's tool to read.
func workDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "note.txt"), []byte(noteSecret+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkToolRoundTrip checks that the tool ran the model's call and sent its
// result back, and printed the final answer.
func checkToolRoundTrip(t *testing.T, fake *agentFake, res toolResult) {
	t.Helper()
	if res.err != nil {
		t.Fatalf("tool failed:\n%s", res)
	}
	got := fake.toolResults()
	if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), noteSecret) {
		t.Errorf("the tool sent back results %q, want one holding the note %q", got, noteSecret)
	}
	if !strings.Contains(res.stdout, fake.Reply) {
		t.Errorf("tool printed no final answer %q:\n%s", fake.Reply, res)
	}
}

// checkRefused checks a tool's run under a budget nothing fits in: it
// reported the 402 naming the budget, gave up within its time limit after
// at most tries attempts, and the upstream saw nothing.
func checkRefused(t *testing.T, s *sluice, fake *agentFake, before int, seen map[string]bool, budget, token string, tries int, res toolResult) {
	t.Helper()
	if res.err == nil {
		t.Errorf("the tool succeeded under a budget nothing fits in:\n%s", res)
	}
	if strings.Contains(res.err.Error(), "time limit") {
		t.Errorf("the tool kept retrying the 402 until killed:\n%s", res)
	}
	// The 402 is the budget's, or (for a request with a part the price
	// table cannot price, such as Codex's web search tool) the refusal of
	// what a budget cannot be promised for: Sluice's either way.
	if out := res.stdout + res.stderr; !strings.Contains(out, "402") || !strings.Contains(out, "Sluice") {
		t.Errorf("the tool did not show Sluice's 402:\n%s", res)
	}
	if n := fake.count(); n != before {
		t.Errorf("the upstream got %d requests under the refusing budget, want none", n-before)
	}
	rows := s.newRows(seen, 1)
	for _, r := range rows {
		if r.Status != 402 || r.Outcome != gateway.OutcomeRefused || r.Token != token || r.Budget != "" && r.Budget != budget {
			t.Errorf("row status %d outcome %s budget %q token %q, want 402 refused by %s for %s", r.Status, r.Outcome, r.Budget, r.Token, budget, token)
		}
	}
	if len(rows) == 0 || len(rows) > tries {
		t.Errorf("%d refused rows, want 1 to %d: the tool should give up on the 402:\n%s", len(rows), tries, res)
	}
}

func TestClaudeCode(t *testing.T) {
	claude := toolBinary(t, "claude")
	work := workDir(t)
	fake := newAgentFake(t, "Read", `{"file_path":"`+filepath.Join(work, "note.txt")+`"}`, "The note says the kettle is blue.")
	s := agentSluice(t, fake)
	seen := map[string]bool{}
	quiet := []string{"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1"}
	// Claude Code 2.1.332's default model, claude-opus-5-5, is newer than
	// the embedded price table; the user picks a model here.
	args := []string{"-p", "--model", "claude-sonnet-4-5", "What does note.txt say?"}

	// As printed: the export lines in the environment.
	recipe := s.mustCLI("", "connect", "claude-code")
	env := exportLines(t, recipe)
	home := t.TempDir()
	res := runTool(t, 2*time.Minute, work, home, append(env, quiet...), claude, args...)
	checkToolRoundTrip(t, fake, res)
	checkToolRows(t, s.newRows(seen, 2), "claude-code", "anthropic", 2)

	// Written into ~/.claude/settings.json, next to the user's own settings.
	home = t.TempDir()
	settings := filepath.Join(home, ".claude", "settings.json")
	mine := "{\n  \"permissions\": {\"deny\": [\"WebFetch\"]},\n  \"env\": {\"MY_OWN\": \"kept\"},\n  \"model\": \"claude-sonnet-4-5\"\n}\n"
	os.MkdirAll(filepath.Dir(settings), 0o700)
	if err := os.WriteFile(settings, []byte(mine), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.runCLIEnv([]string{"HOME=" + home}, "", "connect", "claude-code", "--write"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(settings)
	for _, want := range []string{`"MY_OWN": "kept"`, `"WebFetch"`, `"model": "claude-sonnet-4-5"`, `"ANTHROPIC_BASE_URL": "` + s.url + `"`, `"ANTHROPIC_AUTH_TOKEN": "sk-sluice-`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("settings.json after --write lacks %s:\n%s", want, b)
		}
	}
	n := len(fake.toolResults())
	res = runTool(t, 2*time.Minute, work, home, quiet, claude, args...)
	checkToolRoundTrip(t, fake, res)
	if len(fake.toolResults()) == n {
		t.Errorf("no new tool result from the run set up by --write")
	}
	checkToolRows(t, s.newRows(seen, 2), "claude-code-2", "anthropic", 2)
	undone, err := s.runCLIEnv([]string{"HOME=" + home}, "", "connect", "claude-code", "--undo")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(undone, "still work") || !strings.Contains(undone, "sluice token rm") {
		t.Errorf("connect --undo says %q, want that it leaves the token and how to remove it", undone)
	}
	if b, _ := os.ReadFile(settings); string(b) != mine {
		t.Errorf("settings.json after --undo:\n%s\nwant it as it was:\n%s", b, mine)
	}

	// A budget nothing fits in: Claude Code shows the 402 and stops.
	const budget = "e2e-tiny"
	s.mustCLI("", "budget", "set", "--limit", "0.000001", "--period", "day", "--name", budget)
	before := fake.count()
	res = runTool(t, 90*time.Second, work, t.TempDir(), append(env, quiet...), claude, args...)
	checkRefused(t, s, fake, before, seen, budget, "claude-code", 1, res)
	s.stop()
}

func TestCodex(t *testing.T) {
	codex := toolBinary(t, "codex")
	// Codex's sandbox needs its helper binary on PATH, which a scratch home
	// under /tmp does not get; the model's command runs unsandboxed here.
	work := workDir(t)
	fake := newAgentFake(t, "exec_command", `{"cmd":"cat note.txt"}`, "The note says the kettle is blue.")
	s := agentSluice(t, fake)
	seen := map[string]bool{}
	args := []string{"exec", "--skip-git-repo-check", "-s", "danger-full-access", "-m", "gpt-5.5", "What does note.txt say?"}

	// As printed: the block in a config.toml of its own.
	recipe := s.mustCLI("", "connect", "codex")
	var block []string
	for _, l := range strings.Split(recipe, "\n") {
		if !strings.HasPrefix(l, "#") {
			block = append(block, l)
		}
	}
	codexHome := t.TempDir()
	if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(strings.Join(block, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	// Codex ignores these; they point where a call would fail if it read them.
	ignored := []string{"OPENAI_BASE_URL=http://127.0.0.1:9/v1", "OPENAI_API_KEY=sk-wrong"}
	res := runTool(t, 2*time.Minute, work, t.TempDir(), append([]string{"CODEX_HOME=" + codexHome}, ignored...), codex, args...)
	checkToolRoundTrip(t, fake, res)
	checkToolRows(t, s.newRows(seen, 2), "codex", "openai", 2)

	// Written into the user's own config.toml, which keeps its settings.
	codexHome = t.TempDir()
	config := filepath.Join(codexHome, "config.toml")
	mine := `# my Codex settings
model_provider = "openai"
model = "gpt-5.5"
approval_policy = "never"

[profiles.fast]
model = "gpt-5.4-mini"
`
	if err := os.WriteFile(config, []byte(mine), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.runCLIEnv([]string{"CODEX_HOME=" + codexHome}, "", "connect", "codex", "--write"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(config)
	for _, want := range []string{"# my Codex settings", `model = "gpt-5.5"`, `approval_policy = "never"`, "[profiles.fast]", `model = "gpt-5.4-mini"`,
		`model_provider = "sluice"`, "[model_providers.sluice]", `base_url = "` + s.url + `/v1"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("config.toml after --write lacks %s:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), `model_provider = "openai"`) {
		t.Errorf("config.toml after --write still picks the openai provider:\n%s", b)
	}
	n := len(fake.toolResults())
	res = runTool(t, 2*time.Minute, work, t.TempDir(), []string{"CODEX_HOME=" + codexHome}, codex, "exec", "--skip-git-repo-check", "-s", "danger-full-access", "What does note.txt say?")
	checkToolRoundTrip(t, fake, res)
	if len(fake.toolResults()) == n {
		t.Errorf("no new tool result from the run set up by --write")
	}
	checkToolRows(t, s.newRows(seen, 2), "codex-2", "openai", 2)

	// A budget nothing fits in: Codex shows the 402 and stops, after the
	// five retries of a stream it makes of any error (stream_max_retries).
	const budget = "e2e-tiny"
	s.mustCLI("", "budget", "set", "--limit", "0.000001", "--period", "day", "--name", budget)
	before := fake.count()
	res = runTool(t, 90*time.Second, work, t.TempDir(), []string{"CODEX_HOME=" + codexHome}, codex, "exec", "--skip-git-repo-check", "-s", "danger-full-access", "What does note.txt say?")
	checkRefused(t, s, fake, before, seen, budget, "codex-2", 6, res)

	if _, err := s.runCLIEnv([]string{"CODEX_HOME=" + codexHome}, "", "connect", "codex", "--undo"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(config); string(b) != mine {
		t.Errorf("config.toml after --undo:\n%s\nwant it as it was:\n%s", b, mine)
	}
	s.stop()
}

// TestCodexDefaultModelUnpriced runs Codex on its own default model, newer
// than Sluice's price table: under a budget the 402 names the model and the
// one command that fixes it, and after `sluice prices update` (from a
// local server, in genai-prices' format) the same run goes through.
func TestCodexDefaultModelUnpriced(t *testing.T) {
	codex := toolBinary(t, "codex")
	work := workDir(t)
	fake := newAgentFake(t, "exec_command", `{"cmd":"cat note.txt"}`, "The note says the kettle is blue.")
	s := agentSluice(t, fake)
	seen := map[string]bool{}
	s.mustCLI("", "budget", "set", "--limit", "5", "--period", "day", "--name", "e2e-day")
	codexHome := t.TempDir()
	if _, err := s.runCLIEnv([]string{"CODEX_HOME=" + codexHome}, "", "connect", "codex", "--write"); err != nil {
		t.Fatal(err)
	}
	args := []string{"exec", "--skip-git-repo-check", "-s", "danger-full-access", "What does note.txt say?"}
	res := runTool(t, 90*time.Second, work, t.TempDir(), []string{"CODEX_HOME=" + codexHome}, codex, args...)
	rows := s.newRows(seen, 1)
	if res.err == nil || len(rows) == 0 {
		t.Fatalf("codex on its default model under a budget: want a refusal\n%s", res)
	}
	model := rows[0].Model
	out := res.stdout + res.stderr
	if rows[0].Status != 402 || !strings.Contains(out, model) || !strings.Contains(out, "sluice prices update") {
		t.Errorf("codex's refusal (row status %d, model %q) does not name the model and `sluice prices update`:\n%s", rows[0].Status, model, res)
	}
	if fake.count() != 0 {
		t.Errorf("the upstream got %d requests for an unpriced model under a budget", fake.count())
	}

	// A price table that knows the model, served as genai-prices serves it.
	table := `[{"id":"openai","name":"OpenAI","api_pattern":"https://api\\.openai\\.com","models":[` +
		`{"id":"` + model + `","name":"` + model + `","match":{"starts_with":"` + model + `"},"context_window":400000,` +
		`"prices":{"input_mtok":1.25,"cache_read_mtok":0.125,"output_mtok":10}}]}]`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, table)
	}))
	defer srv.Close()
	upd := s.mustCLI("", "prices", "update", srv.URL+"/prices/data.json")
	if !strings.Contains(upd, "openai/"+model) || !strings.Contains(upd, "sluice prices rollback") {
		t.Errorf("sluice prices update printed:\n%s\nwant it to name openai/%s as newly priced and how to roll back", upd, model)
	}
	res = runTool(t, 2*time.Minute, work, t.TempDir(), []string{"CODEX_HOME=" + codexHome}, codex, args...)
	if res.err != nil {
		t.Fatalf("codex after prices update:\n%s", res)
	}
	rows = s.newRows(seen, 1)
	if len(rows) == 0 {
		t.Fatal("no ledger row for codex's call after the update")
	}
	for _, r := range rows {
		if r.Status != 200 || r.Model != model || r.Priced == nil || !*r.Priced {
			t.Errorf("row after update: status %d model %q priced %v", r.Status, r.Model, r.Priced)
		}
	}
	s.stop()
}

// TestAISDKAndLangChain runs the Vercel AI SDK (OpenAI, Anthropic and
// Google providers) and LangChain JS (OpenAI and Anthropic) from the
// environment `sluice connect ai-sdk` and `sluice connect langchain` print,
// each with a tool round trip; then under a budget nothing fits in, each
// shows the 402 and stops.
func TestAISDKAndLangChain(t *testing.T) {
	node := requireNode(t)
	for _, p := range []string{"ai", "@ai-sdk/openai", "@ai-sdk/anthropic", "@ai-sdk/google", "@langchain/openai", "@langchain/anthropic", "@langchain/core"} {
		toolPackage(t, p)
	}
	work := workDir(t)
	fake := newAgentFake(t, "read_note", `{"path":"note.txt"}`, "The note says the kettle is blue.")
	s := agentSluice(t, fake)
	seen := map[string]bool{}
	env := map[string][]string{}
	for _, tool := range []string{"ai-sdk", "langchain"} {
		env[tool] = exportLines(t, s.mustCLI("", "connect", tool))
	}
	cases := []struct{ tool, name, provider string }{
		{"ai-sdk", "ai-sdk-openai", "openai"},
		{"ai-sdk", "ai-sdk-anthropic", "anthropic"},
		{"ai-sdk", "ai-sdk-google", "gemini"},
		{"langchain", "langchain-openai", "openai"},
		{"langchain", "langchain-anthropic", "anthropic"},
	}
	run := func(tool, name string) outcome {
		t.Helper()
		extra := append([]string{"SLUICE_E2E_BASE_URL=" + s.url, "SLUICE_E2E_NOTE=" + filepath.Join(work, "note.txt")}, env[tool]...)
		res := runTool(t, 90*time.Second, ".", t.TempDir(), extra, node, "tools.mjs", name)
		if res.err != nil {
			t.Fatalf("%s:\n%s", name, res)
		}
		var o outcome
		line := strings.TrimSpace(res.stdout)
		if i := strings.LastIndexByte(line, '\n'); i >= 0 {
			line = line[i+1:]
		}
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("%s printed no outcome: %v\n%s", name, err, res)
		}
		return o
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := len(fake.toolResults())
			o := run(c.tool, c.name)
			if !o.OK {
				t.Fatalf("%s failed: %+v", c.name, o.Error)
			}
			var r struct {
				Text      string
				ToolCalls int
			}
			json.Unmarshal(o.Result, &r)
			if r.ToolCalls < 1 || !strings.Contains(r.Text, fake.Reply) {
				t.Errorf("%s: result %s, want a tool call and the final answer", c.name, o.Result)
			}
			if got := fake.toolResults(); len(got) == n || !strings.Contains(got[len(got)-1], noteSecret) {
				t.Errorf("%s: the tool's result did not come back to the model: %q", c.name, got[n:])
			}
			checkToolRows(t, s.newRows(seen, 2), c.tool, c.provider, 2)
		})
	}

	const budget = "e2e-tiny"
	s.mustCLI("", "budget", "set", "--limit", "0.000001", "--period", "day", "--name", budget)
	for _, c := range cases {
		t.Run(c.name+"/refused", func(t *testing.T) {
			before := fake.count()
			o := run(c.tool, c.name)
			if o.OK || o.Error == nil || o.Error.Status != 402 || !strings.Contains(o.Error.Message+string(o.Error.Body), budget) {
				t.Errorf("%s under a budget nothing fits in: %+v, want its 402 naming %s", c.name, o.Error, budget)
			}
			if fake.count() != before {
				t.Errorf("%s: the upstream got a refused call", c.name)
			}
			rows := s.newRows(seen, 1)
			if len(rows) != 1 || rows[0].Status != 402 {
				t.Errorf("%s: %d rows %+v, want one 402: no retries", c.name, len(rows), rows)
			}
		})
	}
	s.stop()
}

// toolPackage skips (fails under CI=true) when an npm package is missing.
func toolPackage(t *testing.T, name string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join("node_modules", name, "package.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed in e2e/node_modules (npm ci)", name)
		}
		t.Skipf("skipping: %s is not installed (npm ci in e2e/)", name)
	}
}
