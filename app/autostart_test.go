package app

import (
	"context"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/store"
)

func TestExecLine(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"/usr/bin/sluice", "--hidden"}, `/usr/bin/sluice --hidden`},
		{[]string{"/opt/My Apps/sluice", "--hidden", "--data", "/home/a b/x"},
			`"/opt/My Apps/sluice" --hidden --data "/home/a b/x"`},
		{[]string{"/tmp/$x`y`", `back\slash`, "100%"}, `"/tmp/\\$x\\` + "`" + `y\\` + "`" + `" "back\\\\slash" 100%%`},
		{[]string{"/s", "--addr", "127.0.0.1:4021", ""}, `/s --addr 127.0.0.1:4021 ""`},
	}
	for _, tt := range tests {
		if got := execLine(tt.args); got != tt.want {
			t.Errorf("execLine(%q) = %s, want %s", tt.args, got, tt.want)
		}
	}
}

// TestAutostartDesktopEntry writes, checks and removes the XDG autostart
// entry, as the Linux desktop reads it.
func TestAutostartDesktopEntry(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		t.Skip("the XDG entry is for Linux and the other Unix desktops")
	}
	dir := filepath.Join(t.TempDir(), "autostart")
	a := Autostart{Exec: "/opt/Sluice Apps/sluice", Args: []string{"--data", "/home/me/sluice data"}, Dir: dir}
	if on, err := a.Enabled(); err != nil || on {
		t.Fatalf("Enabled() before Enable = %v, %v; want false", on, err)
	}
	if err := a.Enable(); err != nil {
		t.Fatalf("Enable: %v", err)
	}
	path := filepath.Join(dir, "sluice.desktop")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the entry was not written: %v", err)
	}
	for _, line := range []string{"[Desktop Entry]", "Type=Application", "Name=Sluice",
		`Exec="/opt/Sluice Apps/sluice" --hidden --data "/home/me/sluice data"`, "X-GNOME-Autostart-enabled=true"} {
		if !strings.Contains(string(b), line+"\n") {
			t.Errorf("the entry has no line %q:\n%s", line, b)
		}
	}
	if on, err := a.Enabled(); err != nil || !on {
		t.Errorf("Enabled() after Enable = %v, %v; want true", on, err)
	}
	validate := lookTool(t, "desktop-file-validate", "apt-get install desktop-file-utils")
	if out, err := exec.Command(validate, path).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("desktop-file-validate %s: %v\n%s\n%s", path, err, out, b)
	}
	if err := a.Disable(); err != nil {
		t.Fatalf("Disable: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the entry is still there after Disable: %v", err)
	}
	if err := a.Disable(); err != nil {
		t.Errorf("Disable without an entry = %v, want nil", err)
	}
}

// lookTool finds a program, skipping the test without it, or failing it
// under CI=true, where .ci/run installs it.
func lookTool(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (%s)", name, install)
		}
		t.Skipf("skipping: %s is missing (%s)", name, install)
	}
	return p
}

func TestLaunchAgent(t *testing.T) {
	exe := "/Applications/Sluice.app/Contents/MacOS/sluice"
	args := []string{"--hidden", "--data", "/Users/a&b/<sluice>"}
	b := launchAgent(exe, args)
	if !strings.HasPrefix(string(b), `<?xml version="1.0" encoding="UTF-8"?>`) || !strings.Contains(string(b), "<!DOCTYPE plist") {
		t.Errorf("launchAgent lacks the XML and plist headers:\n%s", b)
	}
	// The dict's keys and values, in order, as launchd reads them.
	var plist struct {
		Dict struct {
			Items []struct {
				XMLName xml.Name
				Text    string   `xml:",chardata"`
				Strings []string `xml:"string"`
			} `xml:",any"`
		} `xml:"dict"`
	}
	if err := xml.Unmarshal(b, &plist); err != nil {
		t.Fatalf("launchAgent is not XML: %v\n%s", err, b)
	}
	got := map[string]string{}
	var program []string
	items := plist.Dict.Items
	for i := 0; i+1 < len(items); i += 2 {
		if items[i].XMLName.Local != "key" {
			t.Fatalf("item %d is <%s>, want <key>:\n%s", i, items[i].XMLName.Local, b)
		}
		v := items[i+1]
		got[items[i].Text] = v.XMLName.Local + ":" + strings.TrimSpace(v.Text)
		if items[i].Text == "ProgramArguments" {
			program = v.Strings
		}
	}
	want := map[string]string{"Label": "string:dev.sluice.desktop", "RunAtLoad": "true:", "KeepAlive": "false:",
		"ProcessType": "string:Interactive", "ProgramArguments": "array:"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("key %s = %q, want %q\n%s", k, got[k], v, b)
		}
	}
	if w := append([]string{exe}, args...); strings.Join(program, "\x00") != strings.Join(w, "\x00") {
		t.Errorf("ProgramArguments = %q, want %q", program, w)
	}
}

func TestRunCommand(t *testing.T) {
	tests := []struct {
		exe  string
		args []string
		want string
	}{
		{`C:\Users\me\AppData\Local\Programs\Sluice\sluice.exe`, []string{"--hidden"},
			`C:\Users\me\AppData\Local\Programs\Sluice\sluice.exe --hidden`},
		{`C:\Program Files\Sluice\sluice.exe`, []string{"--hidden", "--data", `D:\my data\`},
			`"C:\Program Files\Sluice\sluice.exe" --hidden --data "D:\my data\\"`},
		{`C:\s.exe`, []string{`say "hi"`, ""}, `C:\s.exe "say \"hi\"" ""`},
	}
	for _, tt := range tests {
		got := runCommand(tt.exe, tt.args)
		if got != tt.want {
			t.Errorf("runCommand(%q, %q) = %s, want %s", tt.exe, tt.args, got, tt.want)
		}
		// Windows splits it back into the same arguments.
		if back := splitWindows(got); strings.Join(back, "\x00") != strings.Join(append([]string{tt.exe}, tt.args...), "\x00") {
			t.Errorf("runCommand(%q, %q) reads back as %q", tt.exe, tt.args, back)
		}
	}
}

// splitWindows splits a command line by CommandLineToArgvW's rules, for
// the arguments after the program name: 2n backslashes and a quote are n
// backslashes and a quote that opens or closes; 2n+1 backslashes and a
// quote are n backslashes and a literal quote; other backslashes are
// literal.
func splitWindows(s string) []string {
	var args []string
	var cur strings.Builder
	inArg, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			n := 0
			for i < len(s) && s[i] == '\\' {
				n++
				i++
			}
			if i < len(s) && s[i] == '"' {
				cur.WriteString(strings.Repeat(`\`, n/2))
				if n%2 == 1 {
					cur.WriteByte('"')
				} else {
					quoted = !quoted
				}
			} else {
				cur.WriteString(strings.Repeat(`\`, n))
				i--
			}
			inArg = true
		case c == '"':
			quoted = !quoted
			inArg = true
		case (c == ' ' || c == '\t') && !quoted:
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args
}

// TestStartAtLoginSetting: the setting adds the OS's entry and removes
// it, and says what the OS does.
func TestStartAtLoginSetting(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the Run key is the user's own registry")
	}
	db := testDB(t)
	entries := t.TempDir()
	svc := &Service{DB: db, Keyring: &store.Keyring{}, Autostart: &Autostart{Exec: "/usr/bin/sluice", Dir: entries}}
	ctx := context.Background()
	set, err := svc.Settings(ctx)
	if err != nil || set.StartAtLogin {
		t.Fatalf("Settings() = %+v, %v; want start_at_login false", set, err)
	}
	set.StartAtLogin = true
	if _, err := svc.PutSettings(ctx, set); err != nil {
		t.Fatalf("PutSettings(start_at_login) = %v", err)
	}
	path, _ := svc.Autostart.Path()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("no entry at %s after turning start at login on: %v", path, err)
	}
	if got, err := svc.Settings(ctx); err != nil || !got.StartAtLogin {
		t.Errorf("Settings().StartAtLogin = %v, %v; want true", got.StartAtLogin, err)
	}
	// Removed by hand: the setting says so.
	os.Remove(path)
	if got, _ := svc.Settings(ctx); got.StartAtLogin {
		t.Errorf("Settings().StartAtLogin = true with no entry, want false")
	}
	svc.Autostart.Enable()
	set.StartAtLogin = false
	if _, err := svc.PutSettings(ctx, set); err != nil {
		t.Fatalf("PutSettings(no start_at_login) = %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the entry is still there after turning start at login off: %v", err)
	}

	// Where it cannot be done, a clear error, and the other settings stay.
	svc.Autostart = &Autostart{Dir: entries} // this test binary is a go build in a temporary folder
	set.StartAtLogin, set.RetentionDays = true, 9
	_, err = svc.PutSettings(ctx, set)
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(err.Error(), "go run") {
		t.Errorf("PutSettings from a go run build = %v, want a 400 saying why", err)
	}
	if got, _ := svc.Settings(ctx); got.StartAtLogin || got.RetentionDays == 9 {
		t.Errorf("after a refused PutSettings: %+v, want the settings before it", got)
	}
}
