package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// requireTool skips the test when a program is missing, or fails it under
// CI=true, where .ci/run installs it.
func requireTool(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing (%s); under CI=true it must be there", name, install)
	}
	t.Skipf("skipping: %s is missing (%s)", name, install)
	return ""
}

// browserScript is one of the dashboard's browser tests.
type browserScript struct {
	name    string        // its file in frontend/tests
	timeout time.Duration // how long it may run
	env     []string      // added to its environment (K=V)
	maySkip bool          // it may skip tests when something it needs is missing here
}

// browserTest runs script under Node, in headless Chromium against s,
// signed in with the link `sluice login` prints. It fails t if any of the
// script's tests fails, or is skipped unless the script may skip, and
// skips t (fails it under CI=true) when Node, Chromium or playwright-core
// is missing. Every screenshot goes to a temporary folder, or where
// SLUICE_SCREENSHOTS says (to refresh the README's pictures).
func browserTest(t *testing.T, s *sluice, script browserScript) {
	t.Helper()
	node := requireNode(t)
	requireTool(t, "chromium", "apt-get install chromium")
	path := filepath.Join("..", "frontend", "tests", script.name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no browser test script: %v", err)
	}
	if _, err := os.Stat(filepath.Join("..", "frontend", "node_modules", "playwright-core")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("frontend/node_modules/playwright-core is missing: run npm ci in frontend/")
		}
		t.Skip("skipping: playwright-core is not installed (npm ci in frontend/)")
	}
	link := strings.TrimSpace(s.mustCLI("", "login"))
	if !strings.Contains(link, "/login?t=") {
		t.Fatalf("sluice login printed %q, want a sign-in link", link)
	}
	shots := os.Getenv("SLUICE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), script.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", path)
	cmd.Env = append(os.Environ(), "SLUICE_URL="+link, "SLUICE_SCREENSHOTS="+shots)
	cmd.Env = append(cmd.Env, script.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("%s:\n%s", script.name, out.String())
	if err != nil {
		t.Fatalf("the browser test %s failed: %v", script.name, err)
	}
	if !script.maySkip && strings.Contains(out.String(), "# skipped") && !strings.Contains(out.String(), "# skipped 0") {
		t.Fatalf("the browser test %s skipped tests", script.name)
	}
}

// TestDashboardInBrowser drives the dashboard of `sluice serve` in headless
// Chromium (frontend/tests/ui.test.mjs, with playwright-core): sign in with
// the printed link, watch an SDK request appear, set a budget and watch a
// request get refused, add a key, make a token.
func TestDashboardInBrowser(t *testing.T) {
	f, s, token := sluiceSetup(t)
	// It skips the keyring test where there is no keyring (and fails it
	// where SLUICE_REQUIRE_KEYRING=1, as under test.sh in CI).
	browserTest(t, s, browserScript{name: "ui.test.mjs", timeout: 4 * time.Minute, maySkip: true, env: []string{
		"SLUICE_ADDR=" + strings.TrimPrefix(s.url, "http://"),
		"SLUICE_TOKEN=" + token,
		"SLUICE_DATA=" + s.data,
		"SLUICE_BIN=" + s.bin,
		"FAKE_OPENAI=" + f["openai"].srv.URL,
		"SLUICE_AUTOSTART=" + filepath.Join(tmpRoot, "config", "autostart", "sluice.desktop"),
	}})
	// The SDK requests the script made reached the upstream through Sluice
	// and are in the ledger.
	rows := s.logRows()
	if len(rows) == 0 {
		t.Errorf("sluice log holds no request after the dashboard test")
	}
}

// TestDashboardMoney runs the dashboard's unit tests of its exact money
// arithmetic (frontend/tests/money.test.mjs) under Node.
func TestDashboardMoney(t *testing.T) {
	node := requireNode(t)
	cmd := exec.Command(node, "--test", filepath.Join("..", "frontend", "tests", "money.test.mjs"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("money.test.mjs: %v\n%s", err, out)
	}
}

// TestDesktopWindow builds the desktop binary (or takes the installed one,
// SLUICE_INSTALLED), starts it under Xvfb, and checks that its window
// shows the dashboard and its gateway answers; then that, started with
// --hidden as at login, its gateway answers and no window shows.
func TestDesktopWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the desktop build in -short mode")
	}
	xvfb := requireTool(t, "xvfb-run", "apt-get install xvfb")
	requireTool(t, "import", "apt-get install imagemagick")
	requireTool(t, "pkg-config", "apt-get install pkg-config")
	if err := exec.Command("pkg-config", "--exists", "webkit2gtk-4.1", "gtk+-3.0").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("webkit2gtk-4.1 and gtk+-3.0 development files are missing (apt-get install libgtk-3-dev libwebkit2gtk-4.1-dev)")
		}
		t.Skip("skipping: no webkit2gtk-4.1/gtk+-3.0 development files")
	}
	bin := os.Getenv("SLUICE_INSTALLED")
	if bin == "" {
		bin = filepath.Join(tmpRoot, "sluice-desktop")
		build := exec.Command("go", "build", "-tags", "desktop,production,webkit2_41", "-o", bin, "github.com/sluicehq/sluice")
		build.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("desktop build: %v\n%s", err, out)
		}
	}

	data := filepath.Join(t.TempDir(), "data")
	shot := filepath.Join(t.TempDir(), "window.png")
	// xvfb-run runs a small script: start the window, wait for the
	// gateway, wait for the page to render, take a screenshot, quit.
	// The gateway takes a free port of its own (:0) and says which; a port
	// picked here and freed before it starts could be taken meanwhile.
	script := fmt.Sprintf(`
%[1]q --addr 127.0.0.1:0 --data %[2]q >%[3]q 2>&1 &
pid=$!
%[5]s
echo PROVIDER-$(curl -s -o /dev/null -w '%%{http_code}' -X POST -d '{"model":"gpt-4o-mini","messages":[]}' http://$addr/v1/chat/completions)
# Wait for the window to show the dashboard (many colours), 30 s at most.
for i in $(seq 30); do
  sleep 1
  import -window root %[4]q
  [ "$(identify -format %%k %[4]q)" -ge 20 ] && break
done
# A second start on the same data brings the first window forward and ends.
timeout 20 %[1]q --data %[2]q >/dev/null 2>&1
echo SECOND-EXIT-$?
kill -TERM $pid
wait $pid
`, bin, data, filepath.Join(filepath.Dir(shot), "window.log"), shot, waitGateway(filepath.Join(filepath.Dir(shot), "window.log")))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The single-instance lock works over the D-Bus session bus, as on a
	// desktop: run the whole script in a session of its own.
	dbus := requireTool(t, "dbus-run-session", "apt-get install dbus")
	cmd := exec.CommandContext(ctx, dbus, "--", xvfb, "-a", "-s", "-screen 0 1280x860x24", "bash", "-c", script)
	// GTK_USE_PORTAL=0: no desktop portals, which the window does not need
	// and which outlive it.
	cmd.Env = append(os.Environ(), "OPENAI_API_KEY=sk-test-desktop", "GTK_USE_PORTAL=0")
	out, err := cmd.CombinedOutput()
	log, _ := os.ReadFile(filepath.Join(filepath.Dir(shot), "window.log"))
	if err != nil {
		t.Fatalf("desktop run: %v\n%s\nsluice said:\n%s", err, out, log)
	}
	if !strings.Contains(string(log), "listening on http://127.0.0.1:") {
		t.Fatalf("the desktop app's gateway did not listen; it said:\n%s", log)
	}
	// The gateway in the window answered: the dashboard, and a provider
	// route (401: the request carries no key).
	if !strings.Contains(string(out), "GATEWAY-UP") || !strings.Contains(string(out), "PROVIDER-401") {
		t.Errorf("the desktop app's gateway did not answer as it should:\n%s", out)
	}
	if strings.Contains(string(out), "SECOND-EXIT-124") || !strings.Contains(string(log), "bringing the window forward") {
		t.Errorf("a second start did not hand over to the running window:\n%s\nsluice said:\n%s", out, log)
	}
	if !strings.Contains(string(log), "shutting down") {
		t.Errorf("the desktop app did not shut down cleanly on SIGTERM; it said:\n%s", log)
	}
	// A window that shows the dashboard has many colours; an empty screen
	// or a blank window has one or two.
	colours, err := exec.Command("identify", "-format", "%k", shot).Output()
	if err != nil {
		t.Fatalf("identify %s: %v", shot, err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(colours)))
	if n < 20 {
		t.Errorf("the screenshot has %d colours: the window shows no dashboard", n)
	}
	if dst := os.Getenv("SLUICE_DESKTOP_SCREENSHOT"); dst != "" {
		b, _ := os.ReadFile(shot)
		os.WriteFile(dst, b, 0o644)
	}

	t.Run("hidden", func(t *testing.T) {
		// As started at login: the gateway serves, the window waits
		// unseen until sluice is run again.
		dir := t.TempDir()
		shot, logf := filepath.Join(dir, "hidden.png"), filepath.Join(dir, "hidden.log")
		script := fmt.Sprintf(`
%q --hidden --addr 127.0.0.1:0 --data %q >%q 2>&1 &
pid=$!
%s
# Time enough for a window to show, were there one.
sleep 6
import -window root %q
kill -TERM $pid
wait $pid
`, bin, filepath.Join(dir, "data"), logf, waitGateway(logf), shot)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, dbus, "--", xvfb, "-a", "-s", "-screen 0 1280x860x24", "bash", "-c", script)
		cmd.Env = append(os.Environ(), "GTK_USE_PORTAL=0")
		out, err := cmd.CombinedOutput()
		log, _ := os.ReadFile(logf)
		if err != nil || !strings.Contains(string(out), "GATEWAY-UP") {
			t.Fatalf("sluice --hidden: %v\n%s\nsluice said:\n%s", err, out, log)
		}
		colours, err := exec.Command("identify", "-format", "%k", shot).Output()
		if err != nil {
			t.Fatalf("identify %s: %v", shot, err)
		}
		if n, _ := strconv.Atoi(strings.TrimSpace(string(colours))); n >= 20 {
			t.Errorf("the screen has %d colours with sluice --hidden: a window shows", n)
		}
		if !strings.Contains(string(log), "shutting down") {
			t.Errorf("sluice --hidden did not shut down cleanly on SIGTERM; it said:\n%s", log)
		}
	})
}

// waitGateway is shell that waits, 20 s at most, for the gateway whose
// output goes to logFile to say where it listens and to answer there; it
// sets addr to that host:port and prints GATEWAY-UP once it answers.
func waitGateway(logFile string) string {
	return fmt.Sprintf(`addr=
for i in $(seq 100); do
  addr=$(sed -n 's|.*listening on http://\([^/ ]*\).*|\1|p' %q | head -n 1)
  if [ -n "$addr" ] && curl -fsS -o /dev/null "http://$addr/"; then echo GATEWAY-UP; break; fi
  sleep 0.2
done`, logFile)
}
