package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/app"
	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
	"golang.org/x/term"
)

// cli runs one command.
type cli struct {
	ctx            context.Context
	stdin          io.Reader
	stdout, stderr io.Writer

	data      string
	upstreams upstreamFlag

	// opened are the connections the command opened (connect), released
	// when it returns (run).
	opened []func() error
}

// flags returns a flag set with the flags every command takes.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() { c.usage(fs) }
	fs.StringVar(&c.data, "data", "", "data directory (default: the per-user config directory's sluice folder)")
	fs.Var(&c.upstreams, "upstream", "provider base URL for this run, NAME=URL (repeatable)")
	return fs
}

// parse parses args with flags and positional arguments in any order.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		} else if err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// usage prints, for -h and --help, the lines of the usage text about
// fs's command, then its flags, to stdout: asked for, help is no error.
func (c *cli) usage(fs *flag.FlagSet) {
	name := fs.Name()
	if name == "sluice" {
		name = "" // the window: the usage lines that start with "sluice ["
	}
	fmt.Fprintln(c.stdout, "Usage:")
	in := false
	for _, line := range strings.Split(usage, "\n") {
		rest, ok := strings.CutPrefix(line, "  sluice ")
		switch {
		case ok:
			word, _, _ := strings.Cut(rest, " ")
			in = word == name || name == "" && strings.HasPrefix(word, "[")
		case !strings.HasPrefix(line, "   "):
			in = false
		}
		if in {
			fmt.Fprintln(c.stdout, line)
		}
	}
	fmt.Fprintln(c.stdout, "\nFlags:")
	fs.SetOutput(c.stdout)
	fs.PrintDefaults()
	fs.SetOutput(c.stderr)
}

func (c *cli) dataDir() (string, error) {
	if c.data != "" {
		return c.data, nil
	}
	return app.DefaultDataDir()
}

// connect returns the API, through a running gateway if there is one. It
// stays open until the command returns.
func (c *cli) connect() (app.API, error) {
	dir, err := c.dataDir()
	if err != nil {
		return nil, err
	}
	api, done, err := app.Connect(dir, c.upstreams.m)
	if err != nil {
		return nil, err
	}
	c.opened = append(c.opened, done)
	return api, nil
}

// release closes what connect opened, last first.
func (c *cli) release() {
	for i := len(c.opened) - 1; i >= 0; i-- {
		c.opened[i]()
	}
	c.opened = nil
}

// start parses args, with def as the subcommand when none is given, and
// connects to the API.
func (c *cli) start(fs *flag.FlagSet, args []string, def string) (pos []string, api app.API, err error) {
	if pos, err = parse(fs, args); err != nil {
		return nil, nil, err
	}
	if len(pos) == 0 && def != "" {
		pos = []string{def}
	}
	if api, err = c.connect(); err != nil {
		return nil, nil, err
	}
	return pos, api, nil
}

// remove is the rm verb of a command that keeps named things: del removes
// the one named in pos[1], and done, a format whose verbs all take that
// name, says so. use is the verb's usage line.
func (c *cli) remove(pos []string, use string, del func(context.Context, string) error, done string) error {
	if err := needName(pos, use); err != nil {
		return err
	}
	if err := del(c.ctx, pos[1]); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, done, pos[1])
	return nil
}

// needName checks that pos is a verb and one name; use is the verb's
// usage line.
func needName(pos []string, use string) error {
	if len(pos) != 2 {
		return fmt.Errorf("%w: %s", errUsage, use)
	}
	return nil
}

// upstreamFlag collects --upstream NAME=URL.
type upstreamFlag struct{ m map[string]string }

func (u *upstreamFlag) String() string { return "" }

func (u *upstreamFlag) Set(s string) error {
	name, url, ok := strings.Cut(s, "=")
	if !ok || name == "" || url == "" {
		return fmt.Errorf("want NAME=URL, got %q", s)
	}
	if err := gateway.CheckUpstream(name, url); err != nil {
		return err
	}
	if u.m == nil {
		u.m = map[string]string{}
	}
	u.m[strings.ToLower(name)] = url
	return nil
}

func (c *cli) serve(args []string) error {
	fs := c.flags("serve")
	addr := fs.String("addr", app.DefaultAddr, "address to listen on")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: serve takes no arguments", errUsage)
	}
	dir, err := c.dataDir()
	if err != nil {
		return err
	}
	return app.Serve(c.ctx, app.Config{Addr: *addr, DataDir: dir, Upstreams: c.upstreams.m, Log: c.stderr, UI: dashboard()})
}

func (c *cli) key(args []string) error {
	fs := c.flags("key")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, api, err := c.start(fs, args, "ls")
	if err != nil {
		return err
	}
	switch pos[0] {
	case "set", "add":
		if err := needName(pos, "sluice key set PROVIDER (the key is read from stdin)"); err != nil {
			return err
		}
		key, err := c.readSecret("Paste your " + pos[1] + " API key (it will not be shown): ")
		if err != nil {
			return err
		}
		if err := api.SetKey(c.ctx, pos[1], key); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "stored the %s key %s in the keyring\n", pos[1], store.Mask(key))
		return nil
	case "rm", "remove", "delete":
		return c.remove(pos, "sluice key rm PROVIDER", api.DeleteKey, "removed the %s key\n")
	case "test":
		if err := needName(pos, "sluice key test PROVIDER"); err != nil {
			return err
		}
		kc, err := api.TestKey(c.ctx, pos[1])
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.stdout, kc)
		}
		if kc.Valid {
			fmt.Fprintf(c.stdout, "%s: valid (%s)\n", kc.Provider, kc.Message)
			return nil
		}
		fmt.Fprintf(c.stdout, "%s: not valid (%s)\n", kc.Provider, kc.Message)
		return exitError{1}
	case "ls", "list":
		l, err := api.Keys(c.ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.stdout, l)
		}
		if l.Backend != "" {
			fmt.Fprintf(c.stdout, "keyring: %s\n", l.Backend)
		} else {
			fmt.Fprintf(c.stdout, "keyring: none (%s)\n", l.Problem)
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PROVIDER\tKEY\tFROM")
		for _, k := range l.Keys {
			masked, src := k.Masked, k.Source
			if masked == "" {
				masked, src = "-", "set with: sluice key set "+k.Provider+"  (or "+k.EnvVar+")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Provider, masked, src)
		}
		return tw.Flush()
	}
	return fmt.Errorf("%w: sluice key set|ls|rm|test", errUsage)
}

// readSecret reads one line from stdin, without echo on a terminal.
func (c *cli) readSecret(prompt string) (string, error) {
	if f, ok := c.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(c.stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(c.stderr)
		if err != nil {
			return "", fmt.Errorf("read key: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("read key from stdin: %w", err)
	}
	return strings.TrimSpace(line), nil
}

func (c *cli) token(args []string) error {
	fs := c.flags("token")
	asJSON := fs.Bool("json", false, "print JSON")
	rpm := fs.Int("rpm", -1, "with new: cap the token's requests per minute (0: no cap)")
	pos, api, err := c.start(fs, args, "ls")
	if err != nil {
		return err
	}
	switch pos[0] {
	case "new", "create", "add":
		if err := needName(pos, "sluice token new NAME [--rpm N]"); err != nil {
			return err
		}
		secret, err := api.NewToken(c.ctx, pos[1])
		if err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, secret)
		fmt.Fprintf(c.stderr, "token %q made: copy it now, Sluice keeps only its hash\n", pos[1])
		if *rpm >= 0 {
			return c.setRPM(api, pos[1], *rpm, c.stderr)
		}
		return nil
	case "rpm":
		n := *rpm
		if len(pos) == 3 {
			v, err := strconv.Atoi(pos[2])
			if err != nil {
				return fmt.Errorf("%w: sluice token rpm NAME N (N a whole number; 0 removes the cap)", errUsage)
			}
			n = v
		}
		if len(pos) < 2 || len(pos) > 3 || n < 0 {
			return fmt.Errorf("%w: sluice token rpm NAME N (0 removes the cap)", errUsage)
		}
		return c.setRPM(api, pos[1], n, c.stdout)
	case "rm", "remove", "revoke", "delete":
		return c.remove(pos, "sluice token rm NAME", api.DeleteToken, "revoked token %q\n")
	case "ls", "list":
		ts, err := api.Tokens(c.ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.stdout, ts)
		}
		set, err := api.Settings(c.ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tCREATED\tLAST USED\tRPM CAP")
		for _, t := range ts {
			last := "never"
			if !t.LastUsed.IsZero() {
				last = t.LastUsed.Local().Format("2006-01-02 15:04")
			}
			cap := "-"
			if n := set.TokenRPM[t.Name]; n > 0 {
				cap = strconv.Itoa(n)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Created.Local().Format("2006-01-02 15:04"), last, cap)
		}
		return tw.Flush()
	}
	return fmt.Errorf("%w: sluice token new|ls|rm|rpm", errUsage)
}

// setRPM caps token's requests per minute at n (0 removes the cap).
func (c *cli) setRPM(api app.API, token string, n int, out io.Writer) error {
	toks, err := api.Tokens(c.ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(toks, func(t store.TokenInfo) bool { return t.Name == token }) {
		return fmt.Errorf("no token %q (see sluice token ls)", token)
	}
	set, err := api.Settings(c.ctx)
	if err != nil {
		return err
	}
	if set.TokenRPM == nil {
		set.TokenRPM = map[string]int{}
	}
	if n == 0 {
		delete(set.TokenRPM, token)
	} else {
		set.TokenRPM[token] = n
	}
	if _, err := api.PutSettings(c.ctx, set); err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintf(out, "token %q: no requests-per-minute cap\n", token)
	} else {
		fmt.Fprintf(out, "token %q: at most %d requests a minute; more get 429\n", token, n)
	}
	return nil
}

// pause refuses every request, or a token's, until resumed or for a time.
func (c *cli) pause(args []string) error {
	fs := c.flags("pause")
	token := fs.String("token", "", "pause only this local token")
	dur := fs.String("for", "", "end the pause by itself after this long (30m, 2h); default: until sluice resume")
	cut := fs.Bool("cut", false, "cut the streams open now instead of letting them finish")
	pos, api, err := c.start(fs, args, "")
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: sluice pause [--token NAME] [--for 30m] [--cut]", errUsage)
	}
	var d time.Duration
	if *dur != "" {
		if d, err = time.ParseDuration(*dur); err != nil || d <= 0 {
			return fmt.Errorf("%w: --for wants a duration such as 30m or 2h", errUsage)
		}
	}
	p, err := api.Pause(c.ctx, *token, d, *cut)
	if err != nil {
		return err
	}
	what := "every request"
	if p.Token != "" {
		what = "token " + strconv.Quote(p.Token)
	}
	if p.Until.IsZero() {
		fmt.Fprintf(c.stdout, "paused %s until sluice resume\n", what)
	} else {
		fmt.Fprintf(c.stdout, "paused %s until %s\n", what, p.Until.Local().Format("15:04:05"))
	}
	return nil
}

// resume ends a token's pause, or every pause.
func (c *cli) resume(args []string) error {
	fs := c.flags("resume")
	token := fs.String("token", "", "end only this token's pause")
	pos, api, err := c.start(fs, args, "")
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: sluice resume [--token NAME]", errUsage)
	}
	ended, err := api.Resume(c.ctx, *token)
	if err != nil {
		return err
	}
	if len(ended) == 0 {
		if *token != "" {
			fmt.Fprintf(c.stdout, "token %q was not paused\n", *token)
		} else {
			fmt.Fprintln(c.stdout, "nothing was paused")
		}
		return nil
	}
	for _, p := range ended {
		if p.Token == "" {
			fmt.Fprintln(c.stdout, "resumed every request")
		} else {
			fmt.Fprintf(c.stdout, "resumed token %q\n", p.Token)
		}
	}
	if *token != "" {
		if st, err := api.Status(c.ctx); err == nil && slices.ContainsFunc(st.Pauses, func(p gateway.Pause) bool { return p.Token == "" }) {
			fmt.Fprintln(c.stdout, "every request is still paused: sluice resume ends that")
		}
	}
	return nil
}

// loop allows a token's repeated requests for a while.
func (c *cli) loop(args []string) error {
	fs := c.flags("loop")
	dur := fs.String("for", "1h", "how long the allowance lasts")
	pos, api, err := c.start(fs, args, "")
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "allow" {
		return fmt.Errorf("%w: sluice loop allow TOKEN [--for 1h]", errUsage)
	}
	d, err := time.ParseDuration(*dur)
	if err != nil || d <= 0 {
		return fmt.Errorf("%w: --for wants a duration such as 1h", errUsage)
	}
	until, err := api.AllowLoop(c.ctx, pos[1], d)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "token %q may repeat requests until %s\n", pos[1], until.Local().Format("15:04:05"))
	return nil
}

func (c *cli) log(args []string) error {
	fs := c.flags("log")
	n := fs.Int("n", 20, "how many requests")
	asJSON := fs.Bool("json", false, "one JSON object per request per line")
	follow := fs.Bool("follow", false, "keep printing requests as they finish")
	fs.BoolVar(follow, "f", false, "same as --follow")
	_, api, err := c.start(fs, args, "")
	if err != nil {
		return err
	}
	recs, err := api.Records(c.ctx, store.LogQuery{Limit: *n})
	if err != nil {
		return err
	}
	var tw *tabwriter.Writer
	print := func(r gateway.Record) error {
		if *asJSON {
			return writeJSONLine(c.stdout, r)
		}
		if tw == nil {
			tw = tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tTOKEN\tPROVIDER/MODEL\tSTATUS\tOUTCOME\tIN\tOUT\tCOST\tMS")
		}
		cost := r.Cost.Format()
		switch {
		case !r.Outcome.Forwarded():
			cost = gateway.Money(0).Format() // never sent: costs nothing, priced or not
		case !r.Priced && !r.Estimated:
			cost = "unpriced"
		case r.Estimated:
			cost += "~"
		}
		out := r.OutputTokens
		what := r.Provider + "/" + r.Model
		if r.Provider == "" && r.Model == "" {
			what = "-" // blocked before its provider was known
		}
		if r.Prompt != "" {
			what += " (p/" + r.Prompt + ")"
		}
		if r.Alias != "" {
			// Asked for as an alias: which, and why this target.
			what += " (" + r.Alias
			if r.Routed != "" && r.Routed != gateway.RoutedTarget {
				what += ", " + r.Routed
			}
			what += ")"
		}
		if r.CallerRoute != "" {
			what += " (asked " + r.AskedModel + " in " + r.CallerRoute + ")"
		}
		outcome := string(r.Outcome)
		if r.Reason != "" {
			// Why it was refused or blocked: budget, loop, auth, route...
			outcome += " (" + r.Reason + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\t%d\n", r.Time.Local().Format("01-02 15:04:05"),
			orDash(r.Token), what, r.Status, outcome, r.InputTokens, out, cost, r.LatencyMS)
		return nil
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if err := print(recs[i]); err != nil {
			return err
		}
	}
	if tw != nil {
		tw.Flush()
	}
	if !*follow {
		return nil
	}
	return api.Follow(c.ctx, func(r gateway.Record) {
		print(r)
		if tw != nil {
			tw.Flush()
		}
	})
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *cli) spend(args []string) error {
	fs := c.flags("spend")
	since := fs.String("since", "", "from this date (2026-11-01) or this long ago (7d, 24h); default: the last 30 days")
	by := fs.String("by", "day", "group by day, provider, model, token or prompt")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	switch *by {
	case "day", "provider", "model", "token", "prompt":
	default:
		return fmt.Errorf("%w: --by day|provider|model|token|prompt", errUsage)
	}
	from := time.Now().AddDate(0, 0, -29)
	from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.Local)
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return fmt.Errorf("%w: --since: %v", errUsage, err)
		}
		from = t
	}
	api, err := c.connect()
	if err != nil {
		return err
	}
	rows, err := api.Spend(c.ctx, store.SpendQuery{Since: from, By: *by})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.stdout, rows)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tREQUESTS\tINPUT\tCACHED\tOUTPUT\tCOST\t\n", strings.ToUpper(*by))
	line := func(key string, r store.SpendRow) {
		cost := r.Cost.Format()
		if r.Unpriced > 0 {
			cost += fmt.Sprintf(" (+%d unpriced)", r.Unpriced)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t\n", orDash(key), r.Requests, r.InputTokens, r.CachedInputTokens, r.OutputTokens, cost)
	}
	for _, r := range rows {
		line(r.Key, r)
	}
	// The total is the rollups' own sum, not one made here.
	totals, err := api.Spend(c.ctx, store.SpendQuery{Since: from})
	if err != nil {
		return err
	}
	var total store.SpendRow
	if len(totals) > 0 {
		total = totals[0]
	}
	label := "TOTAL since "
	if *by == "prompt" {
		label = "ALL REQUESTS since " // prompt calls and the rest
	}
	line(label+from.Format("2006-01-02"), total)
	return tw.Flush()
}

// parseSince reads a date (2006-01-02, local), an RFC 3339 time, or a
// span back from now (90m, 24h, 7d).
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2006-01-02) nor a span (7d, 24h)", s)
}

func (c *cli) prices(args []string) error {
	fs := c.flags("prices")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, api, err := c.start(fs, args, "ls")
	if err != nil {
		return err
	}
	switch pos[0] {
	case "ls", "list":
		l, err := api.Prices(c.ctx)
		if err != nil {
			return err
		}
		if len(pos) > 1 {
			var keep []gateway.Price
			for _, p := range l.Prices {
				if p.Provider == pos[1] || strings.Contains(p.Model, pos[1]) {
					keep = append(keep, p)
				}
			}
			l.Prices = keep
		}
		if *asJSON {
			return writeJSON(c.stdout, l)
		}
		from := "the embedded table"
		if l.Table != nil {
			from = l.Table.Source
		}
		fmt.Fprintf(c.stdout, "price table of %s (%s), %d override(s); dollars per million tokens\n", l.Date, from, l.Overrides)
		if l.Table == nil {
			for _, src := range l.Sources {
				if strings.HasPrefix(src, "See ") {
					fmt.Fprintf(c.stdout, "  %s\n", src)
				} else {
					fmt.Fprintf(c.stdout, "  from %s\n", src)
				}
			}
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PROVIDER\tMODEL\tINPUT\tCACHED\tCACHE WRITE\tOUTPUT\tALSO\tSOURCE")
		for _, p := range l.Prices {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s %s\n", p.Provider, p.Model, perM(p.Input), perM(p.CachedInput),
				perM(p.CacheWrite), perM(p.Output), priceExtras(p), p.Source, p.Updated)
		}
		return tw.Flush()
	case "import":
		if len(pos) != 2 {
			return fmt.Errorf("%w: sluice prices import FILE", errUsage)
		}
		b, err := os.ReadFile(pos[1])
		if err != nil {
			return err
		}
		res, err := api.ImportPrices(c.ctx, b)
		if err != nil {
			return fmt.Errorf("import %s: %w", pos[1], err)
		}
		fmt.Fprintf(c.stdout, "imported %d price rows (%s format) as overrides\n", res.Rows, res.Format)
		return nil
	case "update":
		if len(pos) > 2 {
			return fmt.Errorf("%w: sluice prices update [URL|FILE]", errUsage)
		}
		src := ""
		var data []byte
		if len(pos) == 2 {
			src = pos[1]
			if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
				if data, err = os.ReadFile(src); err != nil {
					return fmt.Errorf("%w; the price table in force is unchanged", err)
				}
			}
		}
		res, err := api.UpdatePrices(c.ctx, src, data)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.stdout, res)
		}
		fmt.Fprintf(c.stdout, "took %d price rows (%s format) from %s", res.Rows, res.Format, res.Source)
		if res.Skipped > 0 {
			fmt.Fprintf(c.stdout, "; %d models left out (prices Sluice cannot meter)", res.Skipped)
		}
		fmt.Fprintln(c.stdout)
		c.printPriceChanges(res)
		fmt.Fprintln(c.stdout, "go back to the table before with: sluice prices rollback")
		return nil
	case "rollback":
		res, err := api.RollbackPrices(c.ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.stdout, res)
		}
		fmt.Fprintf(c.stdout, "back to the price table from %s\n", res.Source)
		c.printPriceChanges(res)
		return nil
	}
	return fmt.Errorf("%w: sluice prices ls|import FILE|update [URL|FILE]|rollback", errUsage)
}

// printPriceChanges lists what an update or rollback changed.
func (c *cli) printPriceChanges(res app.PriceUpdate) {
	const show = 30
	list := func(what string, ms []string) {
		if len(ms) == 0 {
			return
		}
		fmt.Fprintf(c.stdout, "%s %d model(s):", what, len(ms))
		for i, m := range ms {
			if i == show {
				fmt.Fprintf(c.stdout, " ... and %d more", len(ms)-show)
				break
			}
			fmt.Fprintf(c.stdout, " %s", m)
		}
		fmt.Fprintln(c.stdout)
	}
	list("newly priced", res.Added)
	list("no longer priced", res.Removed)
	if len(res.Changed) > 0 {
		fmt.Fprintf(c.stdout, "%d model(s) changed price:\n", len(res.Changed))
		for i, ch := range res.Changed {
			if i == show {
				fmt.Fprintf(c.stdout, "  ... and %d more (sluice prices update --json lists them all)\n", len(res.Changed)-show)
				break
			}
			fmt.Fprintf(c.stdout, "  %s: %s, was %s\n", ch.Model, ch.Now, ch.Was)
		}
	}
	if len(res.Added)+len(res.Removed)+len(res.Changed) == 0 {
		fmt.Fprintln(c.stdout, "no price changed")
	}
	fmt.Fprintf(c.stdout, "price table of %s in force\n", res.Date)
}

// priceExtras names the rates of p beyond the columns of `prices ls`:
// modalities, long-context tiers, service tiers, regions, fees, dated and
// time-of-day rates; "-" when it has none.
func priceExtras(p gateway.Price) string {
	var out []string
	for _, r := range []struct {
		name string
		v    gateway.Money
	}{
		{"1h write", p.CacheWrite1h}, {"audio in", p.InputAudio}, {"cached audio", p.CachedInputAudio},
		{"image in", p.InputImage}, {"video in", p.InputVideo}, {"audio out", p.OutputAudio},
		{"image out", p.OutputImage}, {"video out", p.OutputVideo}, {"reasoning", p.Reasoning},
	} {
		if r.v != 0 {
			out = append(out, r.name+" "+perM(r.v))
		}
	}
	for _, t := range p.Tiers {
		out = append(out, fmt.Sprintf(">%dk %s/%s", t.AboveInputTokens/1000, perM(t.Input), perM(t.Output)))
	}
	for _, st := range p.ServiceTiers {
		out = append(out, st.Name+" "+perM(st.Input)+"/"+perM(st.Output))
	}
	for _, rg := range p.Regions {
		out = append(out, rg.Name+" ×"+rg.Multiplier)
	}
	if p.WebSearch != 0 {
		unit := "search"
		if p.WebSearchPerRequest {
			unit = "grounded request"
		}
		out = append(out, "$"+p.WebSearch.String()+"/"+unit)
	}
	for _, e := range p.Earlier {
		out = append(out, "before "+e.Until+" "+perM(e.Input)+"/"+perM(e.Output))
	}
	for _, w := range p.Windows {
		out = append(out, w.Name+" "+w.From+"-"+w.To+" UTC "+perM(w.Input)+"/"+perM(w.Output))
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ", ")
}

// perM shows a per-token price as dollars per million tokens.
func perM(m gateway.Money) string {
	if m == 0 {
		return "-"
	}
	return (m * 1_000_000).String()
}

func (c *cli) budget(args []string) error {
	fs := c.flags("budget")
	asJSON := fs.Bool("json", false, "print JSON")
	limit := fs.String("limit", "", "limit in dollars")
	period := fs.String("period", "", "day, week, month, total, or a rolling window from 1m to 31d (10m, 1h, 7d)")
	provider := fs.String("provider", "", "only this provider")
	model := fs.String("model", "", "only this model or pattern (claude-opus-*)")
	token := fs.String("token", "", "only this local token")
	prompt := fs.String("prompt", "", "only the calls of this saved prompt (POST /p/NAME)")
	soft := fs.Int("soft", 0, fmt.Sprintf("warning threshold in percent (default %d)", gateway.DefaultSoft))
	name := fs.String("name", "", "the budget's name (default: made from its scope and period)")
	by := fs.String("by", "", "with raise: dollars to add")
	dur := fs.String("for", "1h", "with raise: how long the raise lasts")
	pos, api, err := c.start(fs, args, "ls")
	if err != nil {
		return err
	}
	switch pos[0] {
	case "set", "add":
		if *limit == "" || *period == "" {
			return fmt.Errorf("%w: sluice budget set --limit USD --period day|week|month|total|10m|1h|7d... [--provider P|--model M|--token NAME|--prompt NAME]", errUsage)
		}
		lim, err := gateway.ParseMoney(*limit)
		if err != nil {
			return err
		}
		b := gateway.Budget{Name: *name, Limit: lim, Period: gateway.Period(*period), Provider: *provider, Model: *model, Token: *token, Prompt: *prompt, Soft: *soft}
		if len(pos) == 2 && b.Name == "" {
			b.Name = pos[1]
		}
		if b.Name == "" {
			b.Name = defaultBudgetName(b)
		}
		if existing, err := api.Budgets(c.ctx); err == nil {
			for _, e := range existing {
				if e.Budget.Name == b.Name {
					b.ID = e.Budget.ID
				}
			}
		}
		out, err := api.PutBudget(c.ctx, b)
		if err != nil {
			return err
		}
		if _, rolling := out.Period.Rolling(); rolling {
			fmt.Fprintf(c.stdout, "budget %q: %s in any %s on %s\n", out.Name, out.Limit.Format(), out.Period, out.Scope())
			return nil
		}
		if out.Period == gateway.PeriodTotal {
			fmt.Fprintf(c.stdout, "budget %q: %s in total on %s\n", out.Name, out.Limit.Format(), out.Scope())
			return nil
		}
		fmt.Fprintf(c.stdout, "budget %q: %s per %s on %s\n", out.Name, out.Limit.Format(), out.Period, out.Scope())
		return nil
	case "rm", "remove", "delete":
		return c.remove(pos, "sluice budget rm NAME", api.DeleteBudget, "removed budget %q\n")
	case "raise":
		if len(pos) != 2 || *by == "" {
			return fmt.Errorf("%w: sluice budget raise NAME --by USD [--for 1h]", errUsage)
		}
		amount, err := gateway.ParseMoney(*by)
		if err != nil {
			return err
		}
		d, err := time.ParseDuration(*dur)
		if err != nil {
			return fmt.Errorf("%w: --for: %v", errUsage, err)
		}
		out, err := api.RaiseBudget(c.ctx, pos[1], amount, d)
		if err != nil {
			return err
		}
		if out.Raise != amount {
			// Raises add up while one is in force; the latest end stands.
			fmt.Fprintf(c.stdout, "budget %q raised by %s: with the raise already in force, +%s until %s\n",
				out.Name, amount.Format(), out.Raise.Format(), out.RaiseUntil.Local().Format("15:04"))
			return nil
		}
		fmt.Fprintf(c.stdout, "budget %q raised by %s until %s\n", out.Name, out.Raise.Format(), out.RaiseUntil.Local().Format("15:04"))
		return nil
	case "ls", "list":
		bs, err := api.Budgets(c.ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(c.stdout, bs)
		}
		sort.Slice(bs, func(i, j int) bool { return bs[i].Budget.Name < bs[j].Budget.Name })
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSCOPE\tPERIOD\tLIMIT\tSPENT\tREMAINING\tRESETS")
		for _, s := range bs {
			resets := "never"
			switch {
			case s.Rolling && s.AgesOut.IsZero():
				resets = "rolling, nothing to age out"
			case s.Rolling:
				resets = fmt.Sprintf("rolling, %s/min now, oldest ages out %s", s.Rate.Format(), s.AgesOut.Local().Format("15:04"))
			case !s.Resets.IsZero():
				resets = s.Resets.Local().Format("2006-01-02 15:04")
			}
			limit := s.LimitNow.Format()
			if s.LimitNow != s.Limit {
				limit += fmt.Sprintf(" (%s +%s until %s)", s.Limit.Format(), (s.LimitNow - s.Limit).Format(), s.RaiseUntil.Local().Format("15:04"))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Budget.Name, s.Budget.Scope(), s.Budget.Period,
				limit, s.Spent.Format(), s.Remaining.Format(), resets)
		}
		return tw.Flush()
	}
	return fmt.Errorf("%w: sluice budget set|ls|rm|raise", errUsage)
}

func defaultBudgetName(b gateway.Budget) string {
	scope := "all"
	switch {
	case b.Provider != "":
		scope = b.Provider
	case b.Model != "":
		scope = b.Model
	case b.Token != "":
		scope = "token-" + b.Token
	case b.Prompt != "":
		scope = "prompt-" + b.Prompt
	}
	return scope + "-" + string(b.Period)
}

func (c *cli) env(args []string) error {
	fs := c.flags("env")
	shell := fs.String("shell", "sh", "sh, fish or powershell")
	name := fs.String("name", "shell", "name of the local token made for these exports")
	addr := fs.String("addr", "", "the gateway's address (default: the running one's, else "+app.DefaultAddr+")")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	dir, err := c.dataDir()
	if err != nil {
		return err
	}
	if *addr == "" {
		// The running gateway's own word, over its control socket; a
		// serve.json left by a crash may name a port someone else has now.
		*addr = app.DefaultAddr
		if r, err := app.Dial(dir); err == nil {
			if st, err := r.Status(c.ctx); err == nil {
				*addr = st.Addr
			}
		}
	}
	token := os.Getenv("SLUICE_TOKEN")
	note := ""
	if !gateway.IsLocalToken(token) {
		api, err := c.connect()
		if err != nil {
			return err
		}
		n := *name
		for i := 2; ; i++ {
			token, err = api.NewToken(c.ctx, n)
			if err == nil {
				break
			}
			if i > 100 || !errors.Is(err, store.ErrExists) {
				return err
			}
			n = fmt.Sprintf("%s-%d", *name, i)
		}
		note = fmt.Sprintf("made local token %q for these exports", n)
	}
	base := "http://" + *addr
	vars := [][2]string{
		{"SLUICE_TOKEN", token},
		{"OPENAI_BASE_URL", base + "/v1"},
		{"OPENAI_API_BASE", base + "/v1"},
		{"OPENAI_API_KEY", token},
		{"ANTHROPIC_BASE_URL", base},
		{"ANTHROPIC_API_KEY", token},
		{"GOOGLE_GEMINI_BASE_URL", base},
		{"GEMINI_API_KEY", token},
	}
	w := c.stdout
	if note != "" {
		fmt.Fprintf(w, "# %s\n", note)
	}
	fmt.Fprintln(w, "# OpenAI SDKs read OPENAI_BASE_URL and OPENAI_API_KEY, aider OPENAI_API_BASE; Anthropic SDKs ANTHROPIC_*; Gemini SDKs GEMINI_API_KEY and GOOGLE_GEMINI_BASE_URL.")
	fmt.Fprintln(w, "# Codex ignores all of these, and Claude Code wants ANTHROPIC_AUTH_TOKEN: run `sluice connect TOOL` for a tool's own setup.")
	for _, v := range vars {
		switch *shell {
		case "fish":
			fmt.Fprintf(w, "set -gx %s %s\n", v[0], shQuote(v[1]))
		case "powershell", "pwsh":
			fmt.Fprintf(w, "$env:%s = '%s'\n", v[0], v[1])
		case "sh", "bash", "zsh":
			fmt.Fprintf(w, "export %s=%s\n", v[0], shQuote(v[1]))
		default:
			return fmt.Errorf("%w: --shell sh|fish|powershell", errUsage)
		}
	}
	return nil
}

func shQuote(s string) string { return app.ShellQuote(s) }

// connectTool prints what a tool needs to reach Sluice, with a new local
// token named after it, or writes it into the tool's config file.
func (c *cli) connectTool(args []string) error {
	fs := c.flags("connect")
	shell := fs.String("shell", "sh", "sh, fish or powershell")
	write := fs.Bool("write", false, "edit the tool's config file in place (keeping its other settings, with a backup)")
	undo := fs.Bool("undo", false, "put the tool's config file back as it was before --write")
	asJSON := fs.Bool("json", false, "print the recipe as JSON")
	model := fs.String("model", "", "run the tool on this model (provider/model, or a model the price table knows) through an alias named after the tool, which this sets (claude-code)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fmt.Fprintln(c.stdout, "sluice connect TOOL [--write | --undo]   for TOOL one of:")
		for _, id := range app.ConnectTools() {
			r, _ := app.ConnectRecipe(id, "http://"+app.DefaultAddr, app.TokenPlaceholder)
			fmt.Fprintf(c.stdout, "  %-12s %s\n", id, r.Title)
		}
		return nil
	}
	if len(pos) > 1 || *write && *undo || *undo && *model != "" {
		return fmt.Errorf("%w: sluice connect TOOL [--model TARGET] [--write | --undo]", errUsage)
	}
	tool := pos[0]
	files := app.ToolFiles{}
	if *undo {
		r, err := app.ConnectRecipe(tool, "http://"+app.DefaultAddr, app.TokenPlaceholder)
		if err != nil {
			return err
		}
		res, err := files.Undo(r.Tool)
		if err != nil {
			return err
		}
		if res.Backup != "" {
			fmt.Fprintf(c.stdout, "restored %s as it was before sluice connect --write\n", res.Path)
		} else {
			fmt.Fprintf(c.stdout, "removed %s, which sluice connect --write had made\n", res.Path)
		}
		// The file is the tool's; the token each connect made, and the
		// alias --model set, are Sluice's and stay until removed.
		fmt.Fprintf(c.stdout, "the local tokens sluice connect made for it (%s, %s-2, …; see sluice token ls) still work until sluice token rm NAME, and an alias %s that --model set stays until sluice alias rm %s\n", r.Tool, r.Tool, r.Tool, r.Tool)
		return nil
	}
	if _, err := app.ConnectRecipe(tool, "http://"+app.DefaultAddr, app.TokenPlaceholder); err != nil {
		return err
	}
	api, err := c.connect()
	if err != nil {
		return err
	}
	res, err := api.Connect(c.ctx, tool, true, *model)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "made local token %q for %s\n", res.TokenName, res.Recipe.Title)
	if m := res.Recipe.Model; m != nil {
		fmt.Fprintf(c.stderr, "alias %s → %s: %s asks for %s\n", m.Alias, m.Target, res.Recipe.Title, m.Alias)
	}
	if *asJSON {
		return writeJSON(c.stdout, res)
	}
	if *write {
		w, err := files.Write(res.Recipe)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "wrote %s for %s", w.Path, res.Recipe.Title)
		if w.Backup != "" {
			fmt.Fprintf(c.stdout, " (as it was before: %s)", w.Backup)
		}
		fmt.Fprintf(c.stdout, "\nundo with: sluice connect %s --undo\n", res.Recipe.Tool)
		return nil
	}
	text, err := res.Recipe.Text(*shell)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	fmt.Fprint(c.stdout, text)
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeJSONLine(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

func (c *cli) loginLink(args []string) error {
	_, api, err := c.start(c.flags("login"), args, "")
	if err != nil {
		return err
	}
	link, err := api.Login(c.ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, link)
	return nil
}

func (c *cli) settings(args []string) error {
	fs := c.flags("settings")
	asJSON := fs.Bool("json", false, "print JSON")
	allowKeyTo := fs.String("allow-key-to", "", "with set upstream.NAME: confirm that provider keys may go to this host (host or host:port)")
	pos, api, err := c.start(fs, args, "")
	if err != nil {
		return err
	}
	set, err := api.Settings(c.ctx)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		if *asJSON {
			return writeJSON(c.stdout, set)
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "unpriced_policy\t%s\n", set.UnpricedPolicy)
		fmt.Fprintf(tw, "unpriced_hold\t%s\n", set.UnpricedHold.Format())
		fmt.Fprintf(tw, "time_zone\t%s\n", orDash(set.TimeZone))
		fmt.Fprintf(tw, "allowed_origins\t%s\n", orDash(strings.Join(set.AllowedOrigins, ",")))
		fmt.Fprintf(tw, "log_bodies\t%v\n", set.LogBodies)
		fmt.Fprintf(tw, "compat_endpoints\t%v\n", set.CompatEndpoints)
		fmt.Fprintf(tw, "retention_days\t%d\n", set.RetentionDays)
		fmt.Fprintf(tw, "close_action\t%s\n", set.CloseAction)
		session := set.SessionHours
		if session == 0 {
			session = 24
		}
		fmt.Fprintf(tw, "session_hours\t%d\n", session)
		fmt.Fprintf(tw, "allow_key_to\t%s\n", orDash(strings.Join(set.AllowKeyTo, ",")))
		slice := fmt.Sprint(set.StreamSliceTokens)
		if set.StreamSliceTokens == 0 {
			slice = fmt.Sprintf("%d (default)", gateway.DefaultStreamSlice)
		}
		fmt.Fprintf(tw, "stream_slice_tokens\t%s\n", slice)
		fmt.Fprintf(tw, "strict_holds\t%v\n", set.StrictHolds)
		switch fa := set.FallbackAfterSeconds; {
		case fa == 0:
			fmt.Fprintf(tw, "fallback_after\t%s (default)\n", gateway.DefaultFallbackAfter)
		case fa < 0:
			fmt.Fprintf(tw, "fallback_after\toff\n")
		default:
			fmt.Fprintf(tw, "fallback_after\t%s\n", time.Duration(fa)*time.Second)
		}
		bg := fmt.Sprint(set.BackgroundHoldHours)
		if set.BackgroundHoldHours == 0 {
			bg = "24 (default)"
		}
		fmt.Fprintf(tw, "background_hold_hours\t%s\n", bg)
		loop := set.Policy().Loop
		if loop.Off {
			fmt.Fprintf(tw, "loop_limit\toff\n")
		} else {
			limit := loop.Limit
			if limit == 0 {
				limit = gateway.DefaultLoopLimit
			}
			fmt.Fprintf(tw, "loop_limit\t%d\n", limit)
		}
		window := loop.Window
		if window == 0 {
			window = gateway.DefaultLoopWindow
		}
		fmt.Fprintf(tw, "loop_window\t%s\n", window)
		fmt.Fprintf(tw, "start_at_login\t%v\n", set.StartAtLogin)
		names := make([]string, 0, len(set.Upstreams))
		for n := range set.Upstreams {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(tw, "upstream.%s\t%s\n", n, set.Upstreams[n])
		}
		return tw.Flush()
	}
	if len(pos) != 3 || pos[0] != "set" {
		return fmt.Errorf("%w: sluice settings set KEY VALUE", errUsage)
	}
	key, val := pos[1], pos[2]
	switch {
	case strings.HasPrefix(key, "upstream."):
		name := strings.TrimPrefix(key, "upstream.")
		if set.Upstreams == nil {
			set.Upstreams = map[string]string{}
		}
		if val == "" || val == "default" {
			delete(set.Upstreams, name)
		} else {
			set.Upstreams[name] = val
		}
		if *allowKeyTo != "" {
			if host := gateway.HostOf(val); !strings.EqualFold(host, *allowKeyTo) {
				return fmt.Errorf("%w: --allow-key-to %s does not match the host of %s (%s)", errUsage, *allowKeyTo, val, host)
			}
			if !slices.ContainsFunc(set.AllowKeyTo, func(h string) bool { return strings.EqualFold(h, *allowKeyTo) }) {
				set.AllowKeyTo = append(set.AllowKeyTo, strings.ToLower(*allowKeyTo))
			}
		}
	case key == "allow_key_to":
		set.AllowKeyTo = nil
		for _, h := range strings.Split(val, ",") {
			if h = strings.TrimSpace(h); h != "" {
				set.AllowKeyTo = append(set.AllowKeyTo, strings.ToLower(h))
			}
		}
	case key == "session_hours":
		if set.SessionHours, err = strconv.Atoi(val); err != nil {
			return fmt.Errorf("%w: session_hours is a number of hours", errUsage)
		}
	case key == "unpriced_policy":
		set.UnpricedPolicy = val
	case key == "unpriced_hold":
		if set.UnpricedHold, err = gateway.ParseMoney(val); err != nil {
			return err
		}
	case key == "time_zone":
		set.TimeZone = val
	case key == "allowed_origins":
		set.AllowedOrigins = nil
		for _, o := range strings.Split(val, ",") {
			if o = strings.TrimSpace(o); o != "" {
				set.AllowedOrigins = append(set.AllowedOrigins, o)
			}
		}
	case key == "log_bodies":
		if set.LogBodies, err = strconv.ParseBool(val); err != nil {
			return fmt.Errorf("%w: log_bodies is true or false", errUsage)
		}
	case key == "compat_endpoints":
		if set.CompatEndpoints, err = strconv.ParseBool(val); err != nil {
			return fmt.Errorf("%w: compat_endpoints is true or false", errUsage)
		}
	case key == "retention_days":
		if set.RetentionDays, err = strconv.Atoi(val); err != nil {
			return fmt.Errorf("%w: retention_days is a number of days", errUsage)
		}
	case key == "close_action":
		set.CloseAction = val
	case key == "stream_slice_tokens":
		if set.StreamSliceTokens, err = strconv.ParseInt(val, 10, 64); err != nil || set.StreamSliceTokens < 0 {
			return fmt.Errorf("%w: stream_slice_tokens is a number of tokens (0: the default, %d)", errUsage, gateway.DefaultStreamSlice)
		}
	case key == "background_hold_hours":
		if set.BackgroundHoldHours, err = strconv.Atoi(val); err != nil || set.BackgroundHoldHours < 0 {
			return fmt.Errorf("%w: background_hold_hours is a number of hours (0: the default, 24)", errUsage)
		}
	case key == "fallback_after":
		switch val {
		case "default", "0":
			set.FallbackAfterSeconds = 0
		case "off":
			set.FallbackAfterSeconds = -1
		default:
			d, err := time.ParseDuration(val)
			if err != nil {
				if n, nerr := strconv.Atoi(val); nerr == nil {
					d, err = time.Duration(n)*time.Second, nil
				}
			}
			if err != nil || d < time.Second || d > 24*time.Hour {
				return fmt.Errorf("%w: fallback_after is how long an alias's target has to send its first byte before its fallback is tried: a duration from 1s to 24h (such as 45s or 2m), default (%s) or off", errUsage, gateway.DefaultFallbackAfter)
			}
			set.FallbackAfterSeconds = int(d / time.Second)
		}
	case key == "strict_holds":
		if set.StrictHolds, err = strconv.ParseBool(val); err != nil {
			return fmt.Errorf("%w: strict_holds is true or false", errUsage)
		}
	case key == "loop_limit":
		switch val {
		case "off", "0":
			set.LoopOff = true
		case "on", "default":
			set.LoopOff, set.LoopLimit = false, 0
		default:
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return fmt.Errorf("%w: loop_limit is a number of repeats, off or default", errUsage)
			}
			set.LoopOff, set.LoopLimit = false, n
		}
	case key == "loop_window":
		d, err := time.ParseDuration(val)
		if err != nil || d < time.Second {
			return fmt.Errorf("%w: loop_window is a duration such as 2m", errUsage)
		}
		set.LoopWindowSeconds = int(d / time.Second)
	case key == "start_at_login":
		if set.StartAtLogin, err = strconv.ParseBool(val); err != nil {
			return fmt.Errorf("%w: start_at_login is true or false", errUsage)
		}
	default:
		return fmt.Errorf("%w: unknown setting %q (see sluice help)", errUsage, key)
	}
	if *allowKeyTo != "" && !strings.HasPrefix(key, "upstream.") {
		return fmt.Errorf("%w: --allow-key-to goes with settings set upstream.NAME URL", errUsage)
	}
	if _, err := api.PutSettings(c.ctx, set); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s = %s\n", key, val)
	return nil
}

func (c *cli) version(args []string) error {
	fs := c.flags("version")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: version takes no arguments", errUsage)
	}
	b := app.BuildInfo()
	if *asJSON {
		return writeJSON(c.stdout, b)
	}
	fmt.Fprintln(c.stdout, b)
	return nil
}

// explain adds to an error what to type to fix it: the words of the
// command line, which the packages below it leave to it.
func explain(err error) error {
	switch {
	case errors.Is(err, app.ErrSavedSettings) && errors.Is(err, gateway.ErrInvalidUpstream):
		return fmt.Errorf("%w\nSluice keeps that setting as it was saved but cannot use it: remove it with `sluice settings set upstream.NAME default` "+
			"and add the server again under a name of lower-case letters, digits and dashes (`sluice settings set upstream.my-server URL`)", err)
	}
	return err
}
