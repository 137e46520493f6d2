package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

// tmpRoot holds what the whole package shares: the sluice binary and a
// HOME for node. TestMain removes it.
var tmpRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	tmpRoot = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sdkPackages are the npm packages the scripts import; package.json pins
// their versions.
var sdkPackages = []string{"openai", "@anthropic-ai/sdk", "@google/genai"}

// requireNode skips the test when Node.js or the SDKs are not installed,
// or fails it under CI=true, where they must be.
func requireNode(t *testing.T) string {
	t.Helper()
	missing := ""
	node, err := exec.LookPath("node")
	if err != nil {
		missing = "node is not on PATH (install Node.js 20 or later, then run `npm ci` in e2e/)"
	} else {
		for _, p := range sdkPackages {
			if _, err := os.Stat(filepath.Join("node_modules", p, "package.json")); err != nil {
				missing = fmt.Sprintf("the SDKs are not installed: e2e/node_modules/%s is missing (run `npm ci` in e2e/)", p)
				break
			}
		}
	}
	if missing == "" {
		return node
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("e2e tests cannot run: %s; under CI=true they must", missing)
	}
	t.Skipf("skipping the e2e tests: %s", missing)
	return ""
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// sluiceBinary builds the sluice command once per test run. When the tests
// run with -race, so is the binary, and a race it reports fails the test
// that ran it.
func sluiceBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildPath = filepath.Join(tmpRoot, "sluice")
		if runtime.GOOS == "windows" {
			buildPath += ".exe"
		}
		args := []string{"build", "-o", buildPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "github.com/sluicehq/sluice")
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// keyMode says how the test gives sluice the fake provider keys.
type keyMode int

const (
	// keysInKeyring: SLUICE_REQUIRE_KEYRING=1 (CI). The session's Secret
	// Service is a throwaway one; keys go in only through `sluice key set`.
	keysInKeyring keyMode = iota
	// keysInBoth: SLUICE_TEST_KEYRING=1 (./test.sh outside CI). The
	// session's Secret Service is a throwaway one; keys go in through `key
	// set` and the environment both, so a machine without a working
	// keyring still runs.
	keysInBoth
	// keysInEnv: a plain `go test`. The session's keyring may be the
	// developer's own, holding real keys; sluice is cut off from it and
	// takes the fake keys from the environment.
	keysInEnv
)

func currentKeyMode() keyMode {
	switch {
	case os.Getenv("SLUICE_REQUIRE_KEYRING") == "1":
		return keysInKeyring
	case os.Getenv("SLUICE_TEST_KEYRING") == "1":
		return keysInBoth
	default:
		return keysInEnv
	}
}

// sluiceEnv is the environment of every sluice process: the test's own,
// without provider keys or base URLs, plus what the key mode needs.
func sluiceEnv(t *testing.T, mode keyMode) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if providerVar(name) {
			continue
		}
		if mode == keysInEnv && (name == "DBUS_SESSION_BUS_ADDRESS" || name == "XDG_RUNTIME_DIR") {
			continue
		}
		if name == "GORACE" {
			continue
		}
		env = append(env, kv)
	}
	// A -race binary sleeps a second at exit by default, which would make
	// each CLI call take a second; the caller's own GORACE options still
	// win, coming last.
	env = append(env, strings.TrimSpace("GORACE=atexit_sleep_ms=20 "+os.Getenv("GORACE")))
	// A config folder of the tests' own: start at login writes its entry
	// there, never into the developer's session.
	env = append(env, "XDG_CONFIG_HOME="+filepath.Join(tmpRoot, "config"))
	if mode == keysInEnv {
		if runtime.GOOS != "linux" {
			t.Skip("skipping the e2e tests: outside Linux they would use the login keychain; run them through ./test.sh with SLUICE_TEST_KEYRING=1 on a throwaway keychain")
		}
		// A bus address that leads nowhere: the keyring library then finds
		// no Secret Service (it neither autolaunches a bus nor looks in
		// XDG_RUNTIME_DIR when the address is set), so sluice falls back to
		// the environment and never reads the developer's real keys.
		env = append(env, "DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(t.TempDir(), "no-session-bus"))
	}
	if mode != keysInKeyring {
		env = append(env,
			"OPENAI_API_KEY="+openaiKey,
			"ANTHROPIC_API_KEY="+anthropicKey,
			"GEMINI_API_KEY="+geminiKey,
		)
	}
	return env
}

// providerVar reports whether an environment variable configures a
// provider's SDK or key, which the tests set themselves or not at all.
func providerVar(name string) bool {
	for _, p := range []string{"OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_", "MISTRAL_", "GROQ_", "DEEPSEEK_", "XAI_", "OPENROUTER_", "TOGETHER_", "FIREWORKS_", "OLLAMA_", "SLUICE_E2E_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// outcome is what an SDK script printed: the SDK's result, or the error
// it raised.
type outcome struct {
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  *sdkError       `json:"error"`
}

// sdkError is an error an SDK raised as its own type.
type sdkError struct {
	SDK             bool              `json:"sdk"`
	Class           string            `json:"class"`
	Status          int               `json:"status"`
	Type            string            `json:"type"`
	Code            string            `json:"code"`
	PaymentRequired bool              `json:"payment_required"`
	Message         string            `json:"message"`
	Body            json.RawMessage   `json:"body"`
	Headers         map[string]string `json:"headers"`
}

// runSDK runs one case of an SDK script against baseURL with apiKey.
func runSDK(t *testing.T, script, name, baseURL, apiKey string) outcome {
	t.Helper()
	node := requireNode(t)
	home := filepath.Join(tmpRoot, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, name)
	// Only what node needs: no provider variables, and a HOME of its own so
	// no SDK reads a developer's credential files.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"NO_COLOR=1",
		"SLUICE_E2E_BASE_URL=" + baseURL,
		"SLUICE_E2E_API_KEY=" + apiKey,
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s %s: %v\nstdout:\n%s\nstderr:\n%s", script, name, err, stdout.String(), stderr.String())
	}
	var o outcome
	line := bytes.TrimSpace(stdout.Bytes())
	if i := bytes.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	if err := json.Unmarshal(line, &o); err != nil {
		t.Fatalf("node %s %s printed %q, not an outcome: %v\nstderr:\n%s", script, name, stdout.String(), err, stderr.String())
	}
	return o
}

// sluice is a running `sluice serve` and the data directory it owns.
type sluice struct {
	t    *testing.T
	bin  string
	data string
	env  []string
	url  string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
	errs *watchWriter
	done chan struct{} // closed when the process has exited
	werr error         // the exit error; read after done is closed
}

// runCLI runs `sluice ARGS... --data DIR` to completion with stdin as its
// input and returns its standard output.
func (s *sluice) runCLI(stdin string, args ...string) (string, error) {
	s.t.Helper()
	return s.runCLIEnv(nil, stdin, args...)
}

// runCLIEnv is runCLI with extra variables in the environment.
func (s *sluice) runCLIEnv(extra []string, stdin string, args ...string) (string, error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args = append(args, "--data", s.data)
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = append(append([]string(nil), s.env...), extra...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	checkStderr(s.t, "sluice "+strings.Join(args, " "), stderr.String())
	if err != nil {
		return stdout.String(), fmt.Errorf("sluice %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// mustCLI is runCLI that fails the test on an error.
func (s *sluice) mustCLI(stdin string, args ...string) string {
	s.t.Helper()
	out, err := s.runCLI(stdin, args...)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// startSluice starts `sluice serve` on a free port in front of the given
// upstreams (provider name → base URL) and waits until it listens. The
// test's cleanup stops it.
func startSluice(t *testing.T, env []string, upstreams map[string]string) *sluice {
	t.Helper()
	return startSluiceBinary(t, sluiceBinary(t), env, upstreams)
}

// startSluiceBinary is startSluice with the sluice binary bin.
func startSluiceBinary(t *testing.T, bin string, env []string, upstreams map[string]string) *sluice {
	t.Helper()
	s := &sluice{
		t:    t,
		bin:  bin,
		data: filepath.Join(t.TempDir(), "data"),
		env:  env,
		errs: &watchWriter{prefix: "sluice: listening on ", found: make(chan string, 1)},
		done: make(chan struct{}),
	}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data", s.data}
	for _, name := range []string{"openai", "anthropic", "gemini", "ollama"} {
		if u, ok := upstreams[name]; ok {
			args = append(args, "--upstream", name+"="+u)
		}
	}
	s.cmd = exec.Command(s.bin, args...)
	s.cmd.Env = env
	s.cmd.Stdout = s.errs
	s.cmd.Stderr = s.errs
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start sluice serve: %v", err)
	}
	go func() {
		s.werr = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	select {
	case u := <-s.errs.found:
		s.url = strings.TrimRight(strings.TrimSpace(u), "/")
	case <-s.done:
		t.Fatalf("sluice serve exited before listening: %v\noutput:\n%s", s.werr, s.errs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("sluice serve printed no %q line in 30s; output:\n%s", s.errs.prefix, s.errs.String())
	}
	return s
}

// stop ends `sluice serve` with SIGTERM and checks it shuts down cleanly.
func (s *sluice) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("signal sluice serve: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		s.t.Fatalf("sluice serve did not exit within 15s of SIGTERM; output:\n%s", s.errs.String())
	}
	if s.werr != nil {
		s.t.Errorf("sluice serve after SIGTERM: %v, want a clean exit; output:\n%s", s.werr, s.errs.String())
	}
	checkStderr(s.t, "sluice serve", s.errs.String())
}

// checkStderr fails the test when a sluice process reported a data race
// or printed a provider key.
func checkStderr(t *testing.T, what, out string) {
	t.Helper()
	if strings.Contains(out, "WARNING: DATA RACE") {
		t.Errorf("%s reported a data race:\n%s", what, out)
	}
	for _, k := range []string{openaiKey, anthropicKey, geminiKey} {
		if strings.Contains(out, k) {
			t.Errorf("%s printed a provider key (%.12s...)", what, k)
		}
	}
}

// watchWriter collects a process's output and reports the rest of the
// first line that starts with prefix. It is safe for concurrent use.
type watchWriter struct {
	prefix string
	found  chan string // receives the rest of the line, once

	mu      sync.Mutex
	buf     bytes.Buffer // guarded by mu
	scanned int          // guarded by mu; bytes of buf already searched
	seen    bool         // guarded by mu
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for !w.seen {
		rest := w.buf.Bytes()[w.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		line := string(rest[:i])
		w.scanned += i + 1
		if after, ok := strings.CutPrefix(line, w.prefix); ok {
			w.seen = true
			w.found <- after
		}
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// logRow is one line of `sluice log --json`, the documented contract.
type logRow struct {
	ID                 string          `json:"id"`
	Time               time.Time       `json:"time"`
	Token              string          `json:"token"`
	Provider           string          `json:"provider"`
	Model              string          `json:"model"`
	Route              string          `json:"route"`
	Stream             bool            `json:"stream"`
	Status             int             `json:"status"`
	Outcome            gateway.Outcome `json:"outcome"`
	InputTokens        int64           `json:"input_tokens"`
	OutputTokens       int64           `json:"output_tokens"`
	CachedInputTokens  int64           `json:"cached_input_tokens"`
	CacheWriteTokens   int64           `json:"cache_write_tokens"`
	CacheWrite1hTokens *int64          `json:"cache_write_1h_tokens"`
	ReasoningTokens    int64           `json:"reasoning_tokens"`
	CostUSD            string          `json:"cost_usd"`
	LatencyMS          *int64          `json:"latency_ms"`
	Priced             *bool           `json:"priced"`
	Budget             string          `json:"budget"`
	Reason             string          `json:"reason"`
	Error              string          `json:"error"`
	Alias              string          `json:"alias"`
	Routed             string          `json:"routed"`
	CallerRoute        string          `json:"caller_route"`
	AskedModel         string          `json:"asked_model"`
}

// logRows returns every row `sluice log --json` prints.
func (s *sluice) logRows() []logRow {
	s.t.Helper()
	out := s.mustCLI("", "log", "--json", "-n", "100000")
	for _, k := range []string{openaiKey, anthropicKey, geminiKey} {
		if strings.Contains(out, k) {
			s.t.Errorf("sluice log --json printed a provider key (%.12s...)", k)
		}
	}
	var rows []logRow
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var r logRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			s.t.Fatalf("sluice log --json printed %q, not a JSON row: %v", line, err)
		}
		rows = append(rows, r)
	}
	return rows
}

// newRows waits up to 10s for at least atLeast rows that are not in seen
// to appear in the log, adds them to seen and returns them. Settlement can
// trail the response by a moment, so it polls; after the first new row (or
// at once, when no row is required) it waits a little longer for more, so
// a duplicate or late row is not taken for the next call's.
func (s *sluice) newRows(seen map[string]bool, atLeast int) []logRow {
	s.t.Helper()
	if atLeast == 0 {
		time.Sleep(300 * time.Millisecond)
	}
	fresh := func() []logRow {
		var out []logRow
		for _, r := range s.logRows() {
			if !seen[r.ID] {
				out = append(out, r)
			}
		}
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	rows := fresh()
	for len(rows) < atLeast && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		rows = fresh()
	}
	if len(rows) > 0 {
		time.Sleep(100 * time.Millisecond)
		rows = fresh()
	}
	for _, r := range rows {
		seen[r.ID] = true
	}
	return rows
}
