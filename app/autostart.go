package app

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Autostart starts Sluice when the user logs in, with the window hidden
// and the gateway running, by the OS's own mechanism: an XDG autostart
// entry on Linux and the other Unix desktops, a LaunchAgent on macOS, the
// per-user Run registry key on Windows. The zero value starts the running
// program with the default data directory. It holds no state: each method
// looks at the OS.
type Autostart struct {
	// Exec is the program to start; "" means the running one.
	Exec string
	// Args follow --hidden on its command line (--data DIR, --addr A).
	Args []string
	// Dir is the folder the XDG entry or the LaunchAgent goes in; "" means
	// the OS's own ($XDG_CONFIG_HOME/autostart, ~/Library/LaunchAgents).
	// Windows keeps its entry in the registry and ignores Dir.
	Dir string
}

// Names of the entry, in each OS's terms.
const (
	autostartFile = "sluice.desktop"                                // XDG autostart
	launchAgentID = "dev.sluice.desktop"                            // LaunchAgent label and file name
	runKeyPath    = `Software\Microsoft\Windows\CurrentVersion\Run` // under HKEY_CURRENT_USER
	runValueName  = "Sluice"
	hiddenFlag    = "--hidden"
)

// ErrNoAutostart is returned where Sluice cannot start itself at login.
var ErrNoAutostart = errors.New("start at login is not available")

// autostartArgs are the flags that make a gateway started at login use
// dir and addr, when they are not the defaults.
func autostartArgs(dir, addr string) []string {
	var args []string
	if def, err := DefaultDataDir(); err != nil || filepath.Clean(dir) != filepath.Clean(def) {
		args = append(args, "--data", dir)
	}
	if addr != "" && addr != DefaultAddr {
		args = append(args, "--addr", addr)
	}
	return args
}

// command returns the program and arguments the entry starts.
func (a Autostart) command() (string, []string, error) {
	exe := a.Exec
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return "", nil, fmt.Errorf("find this program for start at login: %w", err)
		}
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		if strings.Contains(exe, string(filepath.Separator)+"go-build") {
			return "", nil, fmt.Errorf("%w: this sluice is a temporary go run build; install one first", ErrNoAutostart)
		}
	}
	return exe, append([]string{hiddenFlag}, a.Args...), nil
}

// desktopEntry is the XDG autostart entry that runs exe with args
// (freedesktop Desktop Entry Specification 1.5, and GNOME's and KDE's
// autostart keys).
func desktopEntry(exe string, args []string) []byte {
	var b bytes.Buffer
	b.WriteString("[Desktop Entry]\n")
	b.WriteString("Type=Application\n")
	b.WriteString("Name=Sluice\n")
	b.WriteString("Comment=Meter and budget every call your AI SDKs and tools make\n")
	fmt.Fprintf(&b, "Exec=%s\n", execLine(append([]string{exe}, args...)))
	b.WriteString("Icon=sluice\n")
	b.WriteString("Terminal=false\n")
	b.WriteString("NoDisplay=true\n")
	b.WriteString("X-GNOME-Autostart-enabled=true\n")
	b.WriteString("X-KDE-autostart-after=panel\n")
	return b.Bytes()
}

// execLine quotes args for an Exec key: each argument with a reserved
// character goes in double quotes, with ", `, $ and \ escaped by a
// backslash; then, as in every string value, each backslash is doubled
// and % (a field code) written %%.
func execLine(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\><~|&;$*?#()`=") {
			var q strings.Builder
			q.WriteByte('"')
			for _, r := range a {
				if strings.ContainsRune("\"`$\\", r) {
					q.WriteByte('\\')
				}
				q.WriteRune(r)
			}
			q.WriteByte('"')
			a = q.String()
		}
		a = strings.ReplaceAll(a, `\`, `\\`)
		out[i] = strings.ReplaceAll(a, "%", "%%")
	}
	return strings.Join(out, " ")
}

// launchAgent is the property list of a LaunchAgent that runs exe with
// args when the user logs in.
func launchAgent(exe string, args []string) []byte {
	var b bytes.Buffer
	esc := func(s string) string {
		var e bytes.Buffer
		xml.EscapeText(&e, []byte(s))
		return e.String()
	}
	b.WriteString(xml.Header)
	b.WriteString(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n")
	b.WriteString("<plist version=\"1.0\">\n<dict>\n")
	fmt.Fprintf(&b, "\t<key>Label</key>\n\t<string>%s</string>\n", launchAgentID)
	b.WriteString("\t<key>ProgramArguments</key>\n\t<array>\n")
	for _, a := range append([]string{exe}, args...) {
		fmt.Fprintf(&b, "\t\t<string>%s</string>\n", esc(a))
	}
	b.WriteString("\t</array>\n")
	b.WriteString("\t<key>RunAtLoad</key>\n\t<true/>\n")
	// Started once per login; quitting Sluice is not a crash to restart.
	b.WriteString("\t<key>KeepAlive</key>\n\t<false/>\n")
	b.WriteString("\t<key>ProcessType</key>\n\t<string>Interactive</string>\n")
	b.WriteString("</dict>\n</plist>\n")
	return b.Bytes()
}

// runCommand is the Run registry value that starts exe with args: a
// Windows command line, each argument quoted as CommandLineToArgvW reads
// it back.
func runCommand(exe string, args []string) string {
	out := make([]string, 0, 1+len(args))
	for _, a := range append([]string{exe}, args...) {
		out = append(out, windowsArg(a))
	}
	return strings.Join(out, " ")
}

func windowsArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n\v\"") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			slashes++
		case '"':
			b.WriteString(strings.Repeat(`\`, slashes+1))
			slashes = 0
		default:
			slashes = 0
		}
		b.WriteByte(s[i])
	}
	b.WriteString(strings.Repeat(`\`, slashes)) // before the closing quote
	b.WriteByte('"')
	return b.String()
}
