//go:build linux

// Command bench measures what Sluice costs a request on this machine.
//
// In one run it starts a fake OpenAI upstream (fixed JSON answers and SSE
// streams with usage), a bare httputil.ReverseProxy to it (no metering:
// the ceiling of any Go proxy here) and `sluice serve` (durable ledger, a
// budget, a local token, the provider key from the environment), and
// drives the same load at each: straight to the fake, through the bare
// proxy, through Sluice; non-streaming and streaming, at 1 and 64
// connections; once with the proxies pinned to CPU 0 and the load and
// the fake to CPU 1, once unpinned. Each figure is the median of -passes
// passes, and each ratio is taken within a pass. Then it measures the
// memory of 1,000 open streams and, over a generated ledger of 1,000,000
// requests, the overview summary and one page of the filtered log.
//
// It reads /proc and pins with taskset, so it builds on Linux only.
//
// Run it with bench/run.sh, which builds Sluice and this command. The
// subcommands fake, bare, load and ledger are its parts, run as processes
// of their own so that each can be pinned and measured apart.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	cmd, args := "run", os.Args[1:]
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = runAll(args)
	case "fake":
		err = runFake(args)
	case "bare":
		err = runBare(args)
	case "load":
		err = runLoad(args)
	case "ledger":
		err = runLedger(args)
	default:
		err = fmt.Errorf("unknown command %q: use run, fake, bare, load or ledger", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type config struct {
	sluice  string // path of the sluice binary
	self    string // path of this binary
	work    string // scratch directory
	passes  int
	dur     time.Duration
	modes   []string
	streams int
	ledger  int
	ledgerD string
}

func runAll(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	var c config
	fs.StringVar(&c.sluice, "sluice", "", "sluice binary (required)")
	fs.IntVar(&c.passes, "passes", 3, "passes per figure (the median is printed)")
	fs.DurationVar(&c.dur, "dur", 2*time.Second, "measured duration of each load")
	modes := fs.String("modes", "pinned,shared", "pinned (taskset) and/or shared (all cores)")
	fs.IntVar(&c.streams, "streams", 1000, "concurrent open streams to measure memory with (0 skips)")
	fs.IntVar(&c.ledger, "ledger", 1_000_000, "records in the generated ledger (0 skips)")
	fs.StringVar(&c.ledgerD, "ledger-dir", "", "keep the generated ledger here and reuse it")
	fs.Parse(args)
	if c.sluice == "" {
		return fmt.Errorf("run: -sluice is required")
	}
	var err error
	if c.self, err = os.Executable(); err != nil {
		return err
	}
	c.modes = strings.Split(*modes, ",")
	if c.work, err = os.MkdirTemp("", "sluice-bench-"); err != nil {
		return err
	}
	defer os.RemoveAll(c.work)

	fmt.Printf("sluice bench: %d CPUs, %s, %s, %d passes of %v\n", runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format(time.RFC3339), c.passes, c.dur)
	for _, mode := range c.modes {
		if err := throughput(c, mode); err != nil {
			return err
		}
	}
	if c.streams > 0 {
		if err := openStreams(c); err != nil {
			return err
		}
	}
	if c.ledger > 0 {
		dir := c.ledgerD
		if dir == "" {
			dir = filepath.Join(c.work, "ledger")
		}
		fmt.Printf("\n== ledger of %d requests\n", c.ledger)
		cmd := exec.Command(c.self, "ledger", "-data", dir, "-n", strconv.Itoa(c.ledger))
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
	}
	return nil
}

// proc is a process the bench started.
type proc struct {
	cmd *exec.Cmd
	url string
	out *strings.Builder
}

// start runs argv, under taskset on cpu when cpu is not "", and waits for
// its "listening on URL" line.
func start(cpu string, env []string, argv ...string) (*proc, error) {
	if cpu != "" {
		argv = append([]string{"taskset", "-c", cpu}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, out: &strings.Builder{}}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			if _, u, ok := strings.Cut(line, "listening on "); ok {
				select {
				case found <- strings.TrimSpace(u):
				default:
				}
			}
			if p.out.Len() < 1<<16 {
				p.out.WriteString(line + "\n")
			}
		}
	}()
	select {
	case u := <-found:
		p.url = strings.TrimRight(u, "/")
		return p, nil
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("%s printed no \"listening on\" line in 20s", strings.Join(argv, " "))
	}
}

func (p *proc) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// cpuTime is the user and system CPU time the process has used.
func (p *proc) cpuTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ is 100 on Linux
}

// memKB returns a field of /proc/PID/status in KiB: VmRSS, VmHWM.
func (p *proc) memKB(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// sluiceEnv is the environment without a D-Bus session, so the key comes
// from OPENAI_API_KEY (as Sluice offers when there is no keyring), and
// without the user's own Sluice and OpenAI settings.
func sluiceEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "DBUS_SESSION_BUS_ADDRESS" || strings.HasPrefix(name, "OPENAI_") || strings.HasPrefix(name, "SLUICE_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "OPENAI_API_KEY=sk-bench-upstream", "DBUS_SESSION_BUS_ADDRESS=disabled:")
}

// startSluice makes a data directory with a local token and a budget
// over everything, and serves it with the fake as OpenAI.
func startSluice(c config, cpu, fakeURL string) (*proc, string, error) {
	dir, err := os.MkdirTemp(c.work, "data-")
	if err != nil {
		return nil, "", err
	}
	env := sluiceEnv()
	cli := func(args ...string) (string, error) {
		cmd := exec.Command(c.sluice, append([]string{"--data", dir}, args...)...)
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("sluice %s: %v: %s", strings.Join(args, " "), err, stderr.String())
		}
		return strings.TrimSpace(string(out)), nil
	}
	token, err := cli("token", "new", "bench")
	if err != nil {
		return nil, "", err
	}
	if _, err := cli("budget", "set", "--limit", "1000000", "--period", "day"); err != nil {
		return nil, "", err
	}
	p, err := start(cpu, env, c.sluice, "--data", dir, "serve", "--addr", "127.0.0.1:0", "--upstream", "openai="+fakeURL+"/v1")
	return p, token, err
}

type scenario struct {
	stream bool
	conns  int
}

func (s scenario) String() string {
	kind := "json"
	if s.stream {
		kind = "stream"
	}
	return fmt.Sprintf("%s x%d", kind, s.conns)
}

var scenarios = []scenario{{false, 1}, {false, 64}, {true, 1}, {true, 64}}

// sample is one load run against one target, with the target's CPU time.
type sample struct {
	loadResult
	cpu time.Duration // the proxy's CPU time over the run; 0 for direct
}

func (s sample) cpuPerReq() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.cpu.Microseconds()) / float64(s.Requests)
}

// load runs one load process against url and measures p's CPU meanwhile.
func load(c config, cpu string, p *proc, url, key string, s scenario, dur time.Duration) (sample, error) {
	argv := []string{c.self, "load", "-url", url, "-key", key, "-conns", strconv.Itoa(s.conns),
		"-dur", dur.String(), "-warm", "0s", "-stream=" + strconv.FormatBool(s.stream)}
	if cpu != "" {
		argv = append([]string{"taskset", "-c", cpu}, argv...)
	}
	var before time.Duration
	if p != nil {
		before = p.cpuTime()
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return sample{}, fmt.Errorf("load %s %s: %w", url, s, err)
	}
	var r sample
	if err := json.Unmarshal(out, &r.loadResult); err != nil {
		return sample{}, fmt.Errorf("load %s %s: %s: %w", url, s, out, err)
	}
	if p != nil {
		r.cpu = p.cpuTime() - before
	}
	if r.Errors > 0 {
		fmt.Printf("warning: load %s %s: %d errors, the first: %s\n", url, s, r.Errors, r.FirstErr)
	}
	return r, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// throughput runs every scenario against direct, bare and sluice in one
// mode and prints the table.
func throughput(c config, mode string) error {
	proxyCPU, loadCPU := "", ""
	if mode == "pinned" {
		proxyCPU, loadCPU = "0", "1"
	}
	fake, err := start(loadCPU, os.Environ(), c.self, "fake")
	if err != nil {
		return err
	}
	defer fake.stop()
	bare, err := start(proxyCPU, os.Environ(), c.self, "bare", "-upstream", fake.url)
	if err != nil {
		return err
	}
	defer bare.stop()
	sl, token, err := startSluice(c, proxyCPU, fake.url)
	if err != nil {
		return err
	}
	defer sl.stop()

	type target struct {
		name string
		p    *proc
		url  string
		key  string
	}
	targets := []target{{"direct", nil, fake.url, "sk-bench-upstream"}, {"bare", bare, bare.url, "sk-bench-upstream"}, {"sluice", sl, sl.url, token}}
	// Warm each up: connections, the page cache, the ledger's first pages.
	for _, t := range targets {
		for _, s := range []scenario{{false, 64}, {true, 64}} {
			if _, err := load(c, loadCPU, nil, t.url, t.key, s, 500*time.Millisecond); err != nil {
				return err
			}
		}
	}

	where := "all cores shared"
	if mode == "pinned" {
		where = "proxy on CPU 0; load and fake upstream on CPU 1"
	}
	fmt.Printf("\n== %s (%s); median of %d passes\n", mode, where, c.passes)
	fmt.Printf("%-10s %9s %9s %9s %7s %7s | %8s %8s %8s | %7s %7s %6s\n",
		"load", "direct/s", "bare/s", "sluice/s", "s/bare", "s/dir", "+p50 ms", "+p99 ms", "+ttfb ms", "bare µs", "sl µs", "cpu×")
	for _, s := range scenarios {
		var rps [3][]float64
		var ratioBare, ratioDirect, addP50, addP99, addTTFB, cpuBare, cpuSl, cpuRatio []float64
		for range c.passes {
			var got [3]sample
			for i, t := range targets {
				if got[i], err = load(c, loadCPU, t.p, t.url, t.key, s, c.dur); err != nil {
					return err
				}
				rps[i] = append(rps[i], got[i].RPS)
			}
			d, b, x := got[0], got[1], got[2]
			ratioBare = append(ratioBare, x.RPS/b.RPS)
			ratioDirect = append(ratioDirect, x.RPS/d.RPS)
			addP50 = append(addP50, (x.P50-d.P50)/1000)
			addP99 = append(addP99, (x.P99-d.P99)/1000)
			addTTFB = append(addTTFB, (x.TTFB50-d.TTFB50)/1000)
			cpuBare = append(cpuBare, b.cpuPerReq())
			cpuSl = append(cpuSl, x.cpuPerReq())
			if b.cpuPerReq() > 0 {
				cpuRatio = append(cpuRatio, x.cpuPerReq()/b.cpuPerReq())
			}
		}
		ttfb := fmt.Sprintf("%8.2f", median(addTTFB))
		if !s.stream {
			ttfb = fmt.Sprintf("%8s", "-")
		}
		fmt.Printf("%-10s %9.0f %9.0f %9.0f %6.0f%% %6.0f%% | %8.2f %8.2f %s | %7.0f %7.0f %6.2f\n",
			s, median(rps[0]), median(rps[1]), median(rps[2]), 100*median(ratioBare), 100*median(ratioDirect),
			median(addP50), median(addP99), ttfb, median(cpuBare), median(cpuSl), median(cpuRatio))
	}
	fmt.Printf("peak RSS: sluice %d MB, bare proxy %d MB\n", sl.memKB("VmHWM")>>10, bare.memKB("VmHWM")>>10)
	return nil
}

// openStreams measures the idle memory of a fresh Sluice and what each of
// c.streams concurrent open streams adds, beside the bare proxy's.
func openStreams(c config) error {
	fake, err := start("", os.Environ(), c.self, "fake")
	if err != nil {
		return err
	}
	defer fake.stop()
	sl, token, err := startSluice(c, "", fake.url)
	if err != nil {
		return err
	}
	defer sl.stop()
	time.Sleep(time.Second)
	idle := sl.memKB("VmRSS")
	bare, err := start("", os.Environ(), c.self, "bare", "-upstream", fake.url)
	if err != nil {
		return err
	}
	defer bare.stop()

	fmt.Printf("\n== memory\nidle RSS: sluice %.1f MB\n", float64(idle)/1024)
	measure := func(name string, p *proc, key string) error {
		// A little traffic first, so the figure is what streams add to a
		// gateway that has served.
		if _, err := load(c, "", nil, p.url, key, scenario{true, 8}, 300*time.Millisecond); err != nil {
			return err
		}
		before := p.memKB("VmRSS")
		cmd := exec.Command(c.self, "load", "-url", p.url, "-key", key, "-hold", strconv.Itoa(c.streams))
		cmd.Stderr = os.Stderr
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			return err
		}
		br := bufio.NewReader(stdout)
		line, err := br.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			return fmt.Errorf("%d held streams through %s: %q %v", c.streams, name, line, err)
		}
		time.Sleep(500 * time.Millisecond)
		open := p.memKB("VmRSS")
		resp, err := http.Get(fake.url + "/release")
		if err != nil {
			return err
		}
		resp.Body.Close()
		rest, _ := io.ReadAll(br)
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("held streams through %s: %w", name, err)
		}
		var r loadResult
		if err := json.Unmarshal(rest, &r); err != nil || r.Errors > 0 || r.Requests != c.streams {
			return fmt.Errorf("held streams through %s: %s", name, rest)
		}
		fmt.Printf("%d open streams through %s: RSS %.1f → %.1f MB, %.1f KB per stream\n",
			c.streams, name, float64(before)/1024, float64(open)/1024, float64(open-before)/float64(c.streams))
		return nil
	}
	if err := measure("sluice", sl, token); err != nil {
		return err
	}
	return measure("bare proxy", bare, "sk-bench-upstream")
}
