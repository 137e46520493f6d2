// Command sluice is a local AI gateway for one developer: it proxies the
// OpenAI, Anthropic and Gemini SDKs to their providers, keeps the provider
// keys in the OS keyring, meters every request's tokens and dollars, and
// refuses with 402 what a budget cannot cover.
//
// Usage: sluice help
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/app"
	"github.com/sluicehq/sluice/gateway"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal starts a clean shutdown, a second one
		// ends the process at once.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		var ex exitError
		if errors.As(err, &ex) {
			os.Exit(ex.code)
		}
		fmt.Fprintln(os.Stderr, "sluice:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// exitError ends the program with a status and no further message.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

var errUsage = errors.New("usage")

// errHelp ends a command that was asked for its usage (-h, --help) and
// printed it: the program then exits with status 0.
var errHelp = errors.New("help requested")

// commands are the subcommands, by every name they answer to; anything
// else is the desktop app's flags.
var commands = map[string]func(*cli, []string) error{
	"serve": (*cli).serve, "login": (*cli).loginLink, "settings": (*cli).settings,
	"key": (*cli).key, "keys": (*cli).key, "token": (*cli).token, "tokens": (*cli).token,
	"log": (*cli).log, "spend": (*cli).spend, "prices": (*cli).prices, "price": (*cli).prices,
	"budget": (*cli).budget, "budgets": (*cli).budget, "env": (*cli).env, "connect": (*cli).connectTool,
	"prompt": (*cli).prompt, "prompts": (*cli).prompt, "alias": (*cli).alias, "aliases": (*cli).alias,
	"pause": (*cli).pause, "resume": (*cli).resume, "loop": (*cli).loop,
	"help": (*cli).help, "-h": (*cli).help, "--help": (*cli).help,
	"version": (*cli).version, "--version": (*cli).version,
}

// valueFlags are the flags every command takes that are followed by a
// value.
var valueFlags = map[string]bool{"-data": true, "--data": true, "-addr": true, "--addr": true, "-upstream": true, "--upstream": true}

// commandFirst moves the subcommand in front of flags given before it
// ("sluice --data D token ls"), so that every command takes its flags
// anywhere.
func commandFirst(args []string) []string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case valueFlags[a]:
			i++ // skip its value
		case strings.HasPrefix(a, "-"):
		case commands[a] != nil:
			if i == 0 {
				return args
			}
			out := append([]string{a}, args[:i]...)
			return append(out, args[i+1:]...)
		default:
			return args
		}
	}
	return args
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := &cli{ctx: app.CommandLine(ctx), stdin: stdin, stdout: stdout, stderr: stderr}
	err := c.run(commandFirst(args))
	if errors.Is(err, errHelp) {
		return nil // the command's usage went to stdout
	}
	return explain(err)
}

// gatewayMemory is the soft limit on the gateway's heap: near it, the
// garbage collector runs sooner, so request bodies already relayed do not
// pile up as garbage while others are read. GOMEMLIMIT overrides it.
const gatewayMemory = 256 << 20

// gatewayGC is the gateway's GOGC: the heap may grow to three times what
// is live before the collector runs. What is live is small (a few MB, a
// little more per open stream) while every request makes tens of KB of
// garbage, so at the default of 100 the collector ran every hundred
// requests or so and took about a tenth of the CPU under load; the soft
// limit above still bounds the heap. (400 saved little more CPU for
// another 20 MB at peak.) GOGC overrides it.
const gatewayGC = 200

// limitMemory sets the gateway's soft memory limit and its GOGC, unless
// GOMEMLIMIT and GOGC did.
func limitMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(gatewayMemory)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gatewayGC)
	}
}

func (c *cli) run(args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && commands[args[0]] == nil {
		limitMemory()
		return c.desktop(args)
	}
	cmd, args := args[0], args[1:]
	if cmd == "serve" {
		limitMemory()
	}
	if run := commands[cmd]; run != nil {
		defer c.release()
		return run(c, args)
	}
	return fmt.Errorf("%w: unknown command %q (see sluice help)", errUsage, cmd)
}

// help prints the usage text, with the gateway's own loop defaults and
// provider table.
func (c *cli) help(args []string) error {
	fmt.Fprintf(c.stdout, usage, gateway.DefaultLoopLimit, int(gateway.DefaultLoopWindow/time.Minute), wrap("Providers: "+strings.Join(gateway.ProviderNames(gateway.DefaultProviders()), " ")+".", 72))
	return nil
}

// wrap breaks s into lines of at most width bytes, at spaces.
func wrap(s string, width int) string {
	var b strings.Builder
	line := 0
	for i, w := range strings.Fields(s) {
		if i > 0 && line+1+len(w) > width {
			b.WriteByte('\n')
			line = 0
		} else if i > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String()
}

const usage = `Sluice: a local AI gateway that meters and budgets every call your SDKs make.

  sluice [--addr 127.0.0.1:4020] [--upstream NAME=URL ...] [--hidden]
                                    open the desktop window, with the gateway inside
                                    (--hidden: keep it hidden, as when started at login)
  sluice serve [--addr 127.0.0.1:4020] [--upstream NAME=URL ...]
                                    run the gateway headless; the dashboard is in the browser
  sluice login                      print a one-time sign-in link to the dashboard
  sluice env [--shell sh|fish|powershell]
                                    print exports that point SDKs at Sluice
  sluice connect [TOOL] [--model TARGET] [--write | --undo] [--shell sh|fish|powershell]
                                    what TOOL needs to go through Sluice, with a token of its own:
                                    claude-code codex aider opencode continue cursor openai
                                    anthropic gemini ai-sdk langchain; --write edits its config
                                    file (with a backup), --undo restores it; --model (claude-code)
                                    runs it on TARGET, any provider's model, through the alias
                                    claude-code, which it sets
  sluice key set PROVIDER           store a provider key (read from stdin) in the OS keyring
  sluice key ls | rm PROVIDER | test PROVIDER
  sluice token new NAME             make a local token (sk-sluice-...), shown once
  sluice token ls | rm NAME | rpm NAME N
                                    N > 0 caps the token's requests per minute (429 past it)
  sluice pause [--token NAME] [--for 30m] [--cut]
                                    refuse every request (or the token's) with 402 until resumed;
                                    --cut ends the streams open now instead of letting them finish
  sluice resume [--token NAME]      end the pauses (all of them, without --token)
  sluice loop allow TOKEN [--for 1h]
                                    let a token repeat the same request (loop detection refuses,
                                    with 429, identical requests past %d within %d minutes)
  sluice log [-n N] [--json] [--follow]
  sluice spend [--since DATE|DURATION] [--by day|provider|model|token|prompt] [--json]
  sluice prices ls [--json] | import FILE | update [URL|FILE] | rollback
                                    update: take the current genai-prices table (or a LiteLLM
                                    file) over the embedded one; rollback: the table before
  sluice budget set --limit USD --period day|week|month|total|10m|1h|7d...
                    (a length is a rolling window, 1m to 31d: spend ages out minute by minute)
                    [--provider P | --model M | --token NAME | --prompt NAME] [--soft PCT] [--name NAME]
  sluice budget ls [--json] | rm NAME | raise NAME --by USD [--for 1h]
  sluice prompt set NAME --model MODEL --template FILE|TEXT [--system TEXT]
                    [--schema FILE] [--max-tokens N] [--temperature T]
                                    save a prompt as an endpoint, POST /p/NAME (each change is a version)
  sluice prompt ls [--json] | show NAME [--version N] | rm NAME | rollback NAME [--to N]
  sluice prompt run NAME [--var K=V ...] [--json]
                                    call it through the running gateway; stdin is the input "text"
  sluice alias set NAME TARGET [--fallback TARGET ...] [--over-soft TARGET]
                                    requests for model NAME go to TARGET (provider/model, or a
                                    model the price table knows); a fallback is tried in order when
                                    the one before fails before its first byte (429, 5xx, no
                                    connection, a timeout); --over-soft TARGET serves instead once
                                    a budget that applies is past its soft threshold. NAME may be a
                                    real model's name, which the alias then stands in for
  sluice alias ls [--json] | rm NAME
  sluice version [--json]           print the version, commit, build date and kind of build
  sluice settings [--json] | settings set KEY VALUE
                    keys: upstream.NAME, unpriced_policy (refuse|estimate), unpriced_hold,
                    time_zone, allowed_origins (comma-separated), log_bodies, compat_endpoints,
                    retention_days,
                    close_action (hide|quit), loop_limit (N|off|default), loop_window (2m),
                    stream_slice_tokens, strict_holds, background_hold_hours,
                    start_at_login (true|false), session_hours, allow_key_to (comma-separated)
  sluice settings set upstream.NAME URL --allow-key-to HOST
                    point a provider elsewhere and confirm that its key may go there

Every command takes --data DIR (default: the per-user config directory's
sluice folder). Commands go through the running gateway when there is one.

%s
`
