package app

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// Where keys may go. A built-in provider's key goes to its official https
// address; anywhere else only once the user confirmed that host from the
// command line: `sluice settings set upstream.NAME URL --allow-key-to
// HOST` (kept in the allow_key_to setting), or `--upstream NAME=URL` on
// the gateway's own command line (for that run). The dashboard, in a
// browser or the window, can neither confirm a host nor point a built-in
// provider at one that is not confirmed. Keyless local servers (Ollama)
// may point anywhere.

type commandLineKey struct{}

// CommandLine marks ctx as the user's own command line: the one caller
// that may confirm where keys go.
func CommandLine(ctx context.Context) context.Context {
	return context.WithValue(ctx, commandLineKey{}, true)
}

// fromCommandLine reports whether ctx is the command line's.
func fromCommandLine(ctx context.Context) bool {
	v, _ := ctx.Value(commandLineKey{}).(bool)
	return v
}

// windowHeader marks a request the desktop window forwards over the
// control socket: the dashboard's, not the command line's.
const windowHeader = "X-Sluice-Window"

// errConfirm is a change of where keys go that only the command line may
// make.
func errConfirm(format string, args ...any) error {
	return &apiError{Status: http.StatusForbidden, Code: "confirm_on_command_line", Message: fmt.Sprintf(format, args...)}
}

// checkKeyDestinations refuses settings that would send a key somewhere the
// user has not confirmed from the command line.
func checkKeyDestinations(ctx context.Context, old, set store.Settings) error {
	cli := fromCommandLine(ctx)
	for _, h := range set.AllowKeyTo {
		if h = strings.TrimSpace(h); h == "" || strings.ContainsAny(h, "/ ") {
			return errConfirm("allow_key_to %q: write a host or host:port, such as proxy.example.com or 127.0.0.1:8080", h)
		}
	}
	if !cli && !sameHosts(old.AllowKeyTo, set.AllowKeyTo) {
		return errConfirm("where keys may go (allow_key_to) is changed from the command line only: sluice settings set allow_key_to HOST,...")
	}
	defaults := gateway.DefaultProviders()
	for name, base := range set.Upstreams {
		if old.Upstreams[name] == base {
			continue
		}
		def, builtin := defaults[name]
		if !builtin || def.Keyless || gateway.Official(name, base) {
			continue
		}
		host := gateway.HostOf(base)
		if slices.ContainsFunc(set.AllowKeyTo, func(h string) bool { return strings.EqualFold(strings.TrimSpace(h), host) }) {
			continue
		}
		if cli {
			return errConfirm("upstream.%s = %s would send your %s key to %s, which is not %s's official address: if that server is yours, say so with --allow-key-to %s",
				name, base, name, host, name, host)
		}
		return errConfirm("the dashboard cannot send your %s key to %s, which is not %s's official address; if that server is yours, confirm it from the command line: sluice settings set upstream.%s %s --allow-key-to %s",
			name, host, name, name, base, host)
	}
	return nil
}

func sameHosts(a, b []string) bool {
	norm := func(l []string) []string {
		out := make([]string, 0, len(l))
		for _, h := range l {
			if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
				out = append(out, h)
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(a), norm(b))
}
