package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// DefaultAddr is where Sluice listens unless told otherwise.
const DefaultAddr = "127.0.0.1:4020"

// DataFile is the name of the bbolt file in the data directory.
const DataFile = "sluice.db"

// DefaultDataDir returns the per-user config directory's sluice folder.
func DefaultDataDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the per-user config directory (use --data): %w", err)
	}
	return filepath.Join(dir, "sluice"), nil
}

// ErrRunning is returned by Serve when another gateway owns the data.
var ErrRunning = errors.New("sluice is already running")

// OpenData opens the data file of dir for a process that is not the
// gateway's owner yet. It fails within about a second, with an error
// wrapping ErrRunning that says where, when a gateway holds the file.
func OpenData(dir string, opts store.Options) (*store.DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if opts.Timeout == 0 {
		opts.Timeout = time.Second
	}
	db, err := store.Open(filepath.Join(dir, DataFile), opts)
	if errors.Is(err, store.ErrLocked) {
		where := ""
		if si, rerr := ReadServeInfo(dir); rerr == nil {
			where = fmt.Sprintf(" (pid %d, http://%s)", si.PID, si.Addr)
		}
		return nil, fmt.Errorf("%w on %s%s: stop it first, or use another --data", ErrRunning, dir, where)
	}
	return db, err
}

// Connect returns the API for dir: through the gateway running on it, if
// one answers on its control socket, else straight from the data file.
// close releases what it opened.
func Connect(dir string, upstreams map[string]string) (api API, close func() error, err error) {
	if r, err := Dial(dir); err == nil {
		return r, func() error { return nil }, nil
	}
	db, err := OpenData(dir, store.Options{})
	if errors.Is(err, ErrRunning) {
		// Started a moment ago: its socket may just be appearing.
		for i := 0; i < 20; i++ {
			time.Sleep(100 * time.Millisecond)
			if r, err := Dial(dir); err == nil {
				return r, func() error { return nil }, nil
			}
		}
	}
	if err != nil {
		return nil, nil, err
	}
	// No gateway owns the data: what one left behind when it crashed is
	// stale.
	os.Remove(filepath.Join(dir, ServeInfoFile))
	os.Remove(controlPath(dir))
	return &Service{DB: db, Keyring: &store.Keyring{}, Upstreams: upstreams, DataDir: dir,
		Autostart: &Autostart{Args: autostartArgs(dir, "")}}, db.Close, nil
}

// Config is how to run the gateway.
type Config struct {
	Addr      string            // "" means DefaultAddr
	DataDir   string            // required
	Upstreams map[string]string // provider → base URL, for this run
	// Log receives the operator's lines (listening, recovered holds,
	// keyring state); nil means os.Stderr.
	Log io.Writer
	// UI is the built dashboard (index.html at its root); nil serves none.
	UI fs.FS
	// Desktop marks a gateway running inside the desktop window.
	Desktop bool
	// Notify, when set, shows notices natively.
	Notify func(Notice)
}

// Gateway is a running Sluice: the data file, the proxy, the API and the
// dashboard, listening on a socket. Make one with Start.
type Gateway struct {
	Addr    string // host:port it listens on
	Service *Service

	db       *store.DB
	srv      *http.Server
	ctl      *http.Server // the control socket's
	served   chan error
	inflight sync.WaitGroup
	sessions *sessions
	hosts    []string // the Host values the listener answers to
	handler  http.Handler
	stopBG   context.CancelFunc
	bgDone   chan struct{}
	closing  chan struct{} // closed when Stop begins
	stopOnce sync.Once
	dataDir  string
	logf     func(string, ...any)
	logq     *logQueue // writes logf's lines
}

// Start opens the data, charges holds left by a crash, and starts serving.
// It fails within about a second, wrapping ErrRunning, when another
// gateway owns the data.
func Start(ctx context.Context, cfg Config) (*Gateway, error) {
	logw := cfg.Log
	if logw == nil {
		logw = os.Stderr
	}
	// Every log line, the proxy's on a request's goroutine included, is
	// queued and written on the queue's goroutine: a log nobody reads
	// holds no request (see logQueue).
	logq := startLog(logw, logQueueSize)
	logf := logq.logf
	started := false
	defer func() {
		if !started {
			logq.close(logFlush)
		}
	}()
	if _, err := gateway.WithUpstreams(gateway.DefaultProviders(), cfg.Upstreams); err != nil {
		return nil, err
	}
	hub := &Hub{Notify: cfg.Notify}
	// A budget event comes on the goroutine of the request whose Hold,
	// Extend or Settle caused it. Neither its log line nor its notice
	// blocks there: logf only queues the line, so a log nobody reads (the
	// stderr of a desktop launch) never holds a request, and the Hub
	// shows the notice natively from a queue of its own.
	db, err := OpenData(cfg.DataDir, store.Options{OnBudgetEvent: func(ev store.BudgetEvent) {
		if n, ok := budgetNotice(ev); ok {
			logf("%s: %s", n.Title, n.Message)
			hub.raise(n)
		}
	}})
	if err != nil {
		return nil, err
	}
	g := &Gateway{db: db, dataDir: cfg.DataDir, logf: logf, logq: logq, served: make(chan error, 1), closing: make(chan struct{})}
	g.sessions = newSessions(g.sessionIdle)
	ok := false
	defer func() {
		if !ok {
			hub.Close()
			db.Close()
		}
	}()
	n, err := db.Recover(ctx)
	if err != nil {
		return nil, fmt.Errorf("recover open holds: %w", err)
	}
	if n > 0 {
		logf("charged %d request(s) left open by a crash at their held amounts", n)
	}

	keys := &store.Keyring{}
	if backend, err := keys.Probe(ctx); err != nil {
		logf("%v", err)
	} else {
		logf("provider keys from %s", backend)
	}

	tokens := newAppTokens(db)
	proxy := &gateway.Proxy{Ledger: db, Keys: keys, Tokens: tokens, Aliases: db, Logf: logq.printf}
	prompts := &gateway.Prompts{Proxy: proxy, Source: db}
	svc := &Service{DB: db, Keyring: keys, Proxy: proxy, Upstreams: cfg.Upstreams, Hub: hub,
		DataDir: cfg.DataDir, Started: time.Now(), Desktop: cfg.Desktop, Closing: g.closing,
		prompts: prompts, tokens: tokens}
	if err := svc.apply(); err != nil {
		return nil, err
	}
	g.Service = svc

	addr := cfg.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	tcp := ln.Addr().(*net.TCPAddr)
	if !tcp.IP.IsLoopback() {
		logf("warning: listening on %s, which is not loopback: anyone who can reach it can try it", tcp)
	}
	proxy.AllowedHosts = allowedHosts(tcp)
	g.hosts = proxy.AllowedHosts
	g.Addr = hostPort(tcp)
	svc.Addr = g.Addr
	svc.Autostart = &Autostart{Args: autostartArgs(cfg.DataDir, cfg.Addr)}

	ctl, err := listenControl(cfg.DataDir)
	if err != nil {
		ln.Close()
		return nil, err
	}
	si := ServeInfo{Addr: g.Addr, PID: os.Getpid()}
	if err := writeServeInfo(cfg.DataDir, si); err != nil {
		ln.Close()
		ctl.Close()
		return nil, err
	}
	svc.LoginLink = g.LoginLink

	mux := http.NewServeMux()
	mux.Handle("/api/", apiHandler(svc, func(r *http.Request) bool {
		return trusted(r) || g.authorized(r)
	}))
	mux.HandleFunc("/login", g.login)
	mux.HandleFunc("POST /logout", g.logout)
	mux.Handle(gateway.PromptPrefix, prompts)
	ui := uiHandler(cfg.UI)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ui != nil && isUIPath(r, cfg.UI) {
			ui.ServeHTTP(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	// Every request, from the socket or the window, is counted so that
	// Stop can wait for it to settle.
	g.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.inflight.Add(1)
		defer g.inflight.Done()
		if r.URL.Path != cleanPath(r.URL.Path) {
			// The mux would answer a path with dot segments or doubled
			// slashes with a redirect to its clean form: the proxy
			// refuses it instead, in the caller's dialect.
			proxy.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
	g.srv = &http.Server{
		Handler:           g.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	g.ctl = &http.Server{Handler: controlHandler(g.handler), ReadHeaderTimeout: 10 * time.Second}
	go func() { g.served <- g.srv.Serve(ln) }()
	go g.ctl.Serve(ctl) // ends with Stop's Shutdown
	bg, stop := context.WithCancel(context.Background())
	g.stopBG, g.bgDone = stop, make(chan struct{})
	go func() {
		defer close(g.bgDone)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); prune(bg, db, logf) }()
		go func() { defer wg.Done(); hub.watch(bg, db) }()
		wg.Wait()
	}()
	logf("listening on http://%s", g.Addr)
	ok, started = true, true
	return g, nil
}

// Handler is the gateway's whole HTTP handler, for an in-process caller
// that is trusted as the user (the desktop window's asset server).
func (g *Gateway) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.handler.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), trustedKey{}, true)))
	})
}

// Done yields the error that stopped the server, if it stops on its own.
func (g *Gateway) Done() <-chan error { return g.served }

// Stop shuts down cleanly: no new requests, in-flight ones finish (or,
// after a grace period, are cut and settled), the data file is closed.
func (g *Gateway) Stop() error {
	g.logf("shutting down")
	g.stopOnce.Do(func() { close(g.closing) }) // live followers end now; requests in flight finish
	grace, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range []*http.Server{g.srv, g.ctl} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Shutdown(grace); err != nil {
				srv.Close() // cuts what is left; each handler still settles
			}
		}()
	}
	wg.Wait()
	g.inflight.Wait()
	g.Service.Proxy.Wait() // settlements of answered requests
	g.stopBG()
	<-g.bgDone
	g.Service.Hub.Close() // what the last requests raised is shown
	os.Remove(filepath.Join(g.dataDir, ServeInfoFile))
	os.Remove(controlPath(g.dataDir))
	err := g.db.Close()
	g.logq.close(logFlush) // the last lines, unless the log takes none
	return err
}

// Serve runs the gateway until ctx ends, printing a one-time sign-in link
// for the dashboard, then shuts down cleanly.
func Serve(ctx context.Context, cfg Config) error {
	g, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	if cfg.UI != nil {
		g.logf("dashboard: %s", g.LoginLink())
	}
	select {
	case <-ctx.Done():
	case err := <-g.served:
		g.Stop()
		return err
	}
	return g.Stop()
}

type trustedKey struct{}

// trusted reports whether r came through Gateway.Handler.
func trusted(r *http.Request) bool {
	v, _ := r.Context().Value(trustedKey{}).(bool)
	return v
}

// prune deletes log records older than the retention setting, at start
// and then hourly, until ctx ends.
func prune(ctx context.Context, db *store.DB, logf func(string, ...any)) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if set, err := db.Settings(); err == nil && set.RetentionDays > 0 {
			cut := time.Now().AddDate(0, 0, -set.RetentionDays)
			if n, err := db.PruneRecords(cut); err != nil {
				logf("prune the request log: %v", err)
			} else if n > 0 {
				logf("pruned %d log record(s) older than %d days (spend totals keep them)", n, set.RetentionDays)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// authorized admits the dashboard in a browser: its session cookie and
// its per-tab secret both, from a page of its own origin. The command line
// comes over the control socket, which is trusted.
func (g *Gateway) authorized(r *http.Request) bool {
	if !g.browserOK(r) {
		return false
	}
	_, ok := g.sessions.find(r, sessionCookie(g.Addr))
	return ok
}

// browserOK reports whether r comes under an allowed Host and from no page
// of another site.
func (g *Gateway) browserOK(r *http.Request) bool {
	if !containsFold(g.hosts, r.Host) {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && !strings.EqualFold(o, "http://"+r.Host) {
		return false
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	return true
}

// allowedHosts are the Host values a loopback listener answers to.
func allowedHosts(a *net.TCPAddr) []string {
	port := strconv.Itoa(a.Port)
	hosts := []string{hostPort(a)}
	if a.IP.IsLoopback() || a.IP.IsUnspecified() {
		hosts = append(hosts, "127.0.0.1:"+port, "localhost:"+port, "[::1]:"+port)
	}
	return hosts
}

func hostPort(a *net.TCPAddr) string {
	if a.IP.IsUnspecified() {
		return "127.0.0.1:" + strconv.Itoa(a.Port)
	}
	return net.JoinHostPort(a.IP.String(), strconv.Itoa(a.Port))
}

func writeServeInfo(dir string, si ServeInfo) error {
	b, _ := json.MarshalIndent(si, "", "  ")
	tmp := filepath.Join(dir, ServeInfoFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", ServeInfoFile, err)
	}
	return os.Rename(tmp, filepath.Join(dir, ServeInfoFile))
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// cleanPath is p as http.ServeMux would clean it: rooted, without "." or
// ".." segments or doubled slashes, keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}
