// Package app is Sluice's application service: the one API that the
// command line and the dashboard talk to, whether they run in the
// gateway's process or beside it, and the wiring of a running gateway.
package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// API is everything the command line and the dashboard can ask of Sluice.
// Service answers it from the data file; Remote answers it through a
// running gateway.
type API interface {
	Spend(ctx context.Context, q store.SpendQuery) ([]store.SpendRow, error)
	Records(ctx context.Context, q store.LogQuery) ([]gateway.Record, error)
	// Follow calls fn with each new record until ctx ends.
	Follow(ctx context.Context, fn func(gateway.Record)) error

	Keys(ctx context.Context) (KeyList, error)
	SetKey(ctx context.Context, provider, key string) error
	DeleteKey(ctx context.Context, provider string) error
	TestKey(ctx context.Context, provider string) (gateway.KeyCheck, error)

	Tokens(ctx context.Context) ([]store.TokenInfo, error)
	NewToken(ctx context.Context, name string) (string, error)
	DeleteToken(ctx context.Context, name string) error

	Prices(ctx context.Context) (PriceList, error)
	// UpdatePrices makes a genai-prices or LiteLLM table the one in
	// force, over the embedded table: from data when it is given (read
	// from source, a file), else fetched from the URL source
	// (defaultPricesURL when empty). The table it replaces is kept for
	// RollbackPrices.
	UpdatePrices(ctx context.Context, source string, data []byte) (PriceUpdate, error)
	// RollbackPrices puts back the table in force before the last update.
	RollbackPrices(ctx context.Context) (PriceUpdate, error)
	ImportPrices(ctx context.Context, data []byte) (ImportResult, error)

	Budgets(ctx context.Context) ([]store.BudgetStatus, error)
	PutBudget(ctx context.Context, b gateway.Budget) (gateway.Budget, error)
	DeleteBudget(ctx context.Context, name string) error
	RaiseBudget(ctx context.Context, name string, by gateway.Money, d time.Duration) (gateway.Budget, error)

	Settings(ctx context.Context) (store.Settings, error)
	PutSettings(ctx context.Context, s store.Settings) (store.Settings, error)

	// Pause refuses every request, or token's, for d (0: until resumed);
	// cut ends the streams open now instead of letting them finish.
	Pause(ctx context.Context, token string, d time.Duration, cut bool) (gateway.Pause, error)
	// Resume ends token's pause, or every pause when token is "", and
	// returns the pauses it ended.
	Resume(ctx context.Context, token string) ([]gateway.Pause, error)
	// AllowLoop lets token repeat requests for d.
	AllowLoop(ctx context.Context, token string, d time.Duration) (time.Time, error)

	Status(ctx context.Context) (Status, error)
	Changes(ctx context.Context) (Changes, error)
	Notices(ctx context.Context, since int64) ([]Notice, error)
	Summary(ctx context.Context) (Summary, error)
	RecordDetail(ctx context.Context, id string) (RecordDetail, error)
	PutPrice(ctx context.Context, p gateway.Price) error

	Prompts(ctx context.Context) ([]gateway.Prompt, error)
	// Prompt returns the current version of a prompt, or version v > 0.
	Prompt(ctx context.Context, name string, v int) (gateway.Prompt, error)
	PromptVersions(ctx context.Context, name string) ([]gateway.Prompt, error)
	PutPrompt(ctx context.Context, p gateway.Prompt) (gateway.Prompt, error)
	DeletePrompt(ctx context.Context, name string) error
	// RollbackPrompt makes version to current again; 0 means the one
	// before the current.
	RollbackPrompt(ctx context.Context, name string, to int) (gateway.Prompt, error)
	PreviewPrompt(ctx context.Context, in PromptInput) (gateway.PromptPreview, error)
	// RunPrompt calls a saved prompt through the running gateway.
	RunPrompt(ctx context.Context, in PromptRun) (gateway.PromptResult, error)
	PromptSpend(ctx context.Context) ([]store.SpendRow, error)
	// Aliases returns every alias, by name.
	Aliases(ctx context.Context) ([]gateway.Alias, error)
	// PutAlias saves an alias, replacing the one of the same name, once
	// its targets are models Sluice can reach and it makes no loop.
	PutAlias(ctx context.Context, a gateway.Alias) (gateway.Alias, error)
	DeleteAlias(ctx context.Context, name string) error

	// Login returns a one-time sign-in link for the dashboard of the
	// running gateway.
	Login(ctx context.Context) (string, error)

	// Connect returns what tool needs to reach this gateway; with
	// makeToken, with a new local token named after the tool, else with
	// TokenPlaceholder. With model, a target as an alias takes it, the
	// tool runs on it through the alias named after the tool, which is
	// set to it first.
	Connect(ctx context.Context, tool string, makeToken bool, model string) (ConnectResult, error)
}

// KeyList is the provider keys Sluice can use, never the keys themselves.
type KeyList struct {
	Backend string    `json:"backend"`           // the keyring in use, "" when none
	Problem string    `json:"problem,omitempty"` // why there is no keyring
	Keys    []KeyInfo `json:"keys"`
}

// KeyInfo is one provider's key, masked.
type KeyInfo struct {
	Provider string `json:"provider"`
	Masked   string `json:"masked"`           // "" when there is none
	Source   string `json:"source,omitempty"` // "keyring" or "environment"
	EnvVar   string `json:"env_var,omitempty"`
}

// PriceList is the price table in force.
type PriceList struct {
	Version string `json:"version"`
	// Sources credit the data of the built-in table, with the commit and
	// date of each.
	Sources   []string        `json:"sources,omitempty"`
	Overrides int             `json:"overrides"`
	Prices    []gateway.Price `json:"prices"`
	// Date is the date of the table in force: the embedded table's
	// version, or the day a fetched table was taken.
	Date string `json:"date"`
	// Table is the fetched table in force (sluice prices update), nil when
	// the embedded table stands alone.
	Table *PriceTableInfo `json:"table,omitempty"`
	// CanRollback: sluice prices rollback has a table to go back to.
	CanRollback bool `json:"can_rollback"`
}

// PriceTableInfo describes a fetched price table.
type PriceTableInfo struct {
	Source  string    `json:"source"`
	Format  string    `json:"format"`
	Fetched time.Time `json:"fetched"`
	Rows    int       `json:"rows"`
}

// ImportResult says what an import took.
type ImportResult struct {
	Format string `json:"format"`
	Rows   int    `json:"rows"`
}

// Service answers the API from an open data file. It is safe for
// concurrent use.
type Service struct {
	DB      *store.DB
	Keyring *store.Keyring
	// Proxy, when the gateway runs in this process, is told of new prices,
	// settings and keys.
	Proxy *gateway.Proxy
	// Upstreams are base URLs given on the command line; they win over the
	// saved settings for this run.
	Upstreams map[string]string
	// Client makes key tests; nil means one with a 20 s timeout.
	Client *http.Client

	// Hub, when the gateway runs in this process, counts changes and keeps
	// notices for the dashboard.
	Hub *Hub
	// Addr, DataDir, Started and Desktop describe the running gateway.
	Addr    string
	DataDir string
	Started time.Time
	Desktop bool
	// LoginLink, set by a running gateway, makes a sign-in link.
	LoginLink func() string
	// Autostart, when set, is how this system starts Sluice at login; the
	// StartAtLogin setting adds and removes its entry. Nil: not here.
	Autostart *Autostart
	// Closing, when set, is closed as the gateway starts shutting down:
	// Follow ends then, so that shutdown need not wait for followers.
	Closing <-chan struct{}

	// prompts and tokens, set by a running gateway, run prompt calls
	// made through the API.
	prompts *gateway.Prompts
	tokens  appTokens

	probeMu      sync.Mutex // guards the probe fields
	probedAt     time.Time
	probeBackend string
	probeProblem string
}

var _ API = (*Service)(nil)

// errNotFound is returned for a provider, token or budget that does not
// exist.
var errNotFound = errors.New("not found")

// ErrSavedSettings is wrapped by errors about settings already saved in
// the data file that Sluice cannot use as they are (saved by an older
// version, under rules since made stricter). Nothing is changed or lost:
// the user corrects them.
var ErrSavedSettings = errors.New("saved settings")

func (s *Service) Spend(ctx context.Context, q store.SpendQuery) ([]store.SpendRow, error) {
	return s.DB.Spend(q)
}

func (s *Service) Records(ctx context.Context, q store.LogQuery) ([]gateway.Record, error) {
	return s.DB.Records(q)
}

func (s *Service) Follow(ctx context.Context, fn func(gateway.Record)) error {
	feed := s.DB.Subscribe()
	defer feed.Close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.Closing:
			return nil
		case r, ok := <-feed.C:
			if !ok {
				return nil
			}
			fn(r)
		}
	}
}

// providers returns the providers in force: defaults, then saved
// settings, then the command line.
func (s *Service) providers() (map[string]gateway.Provider, error) {
	ps := gateway.DefaultProviders()
	set, err := s.DB.Settings()
	if err != nil {
		return nil, err
	}
	if ps, err = gateway.WithUpstreams(ps, set.Upstreams); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSavedSettings, err)
	}
	if ps, err = gateway.WithUpstreams(ps, s.Upstreams); err != nil {
		return nil, err
	}
	// Keys may go to the hosts confirmed from the command line: saved, or
	// given to this run.
	hosts := append([]string(nil), set.AllowKeyTo...)
	for _, base := range s.Upstreams {
		hosts = append(hosts, gateway.HostOf(base))
	}
	return gateway.Confirm(ps, hosts), nil
}

func (s *Service) provider(name string) (gateway.Provider, error) {
	ps, err := s.providers()
	if err != nil {
		return gateway.Provider{}, err
	}
	p, ok := ps[strings.ToLower(name)]
	if !ok {
		return gateway.Provider{}, fmt.Errorf("provider %q: %w (known: %s)", name, errNotFound, strings.Join(gateway.ProviderNames(ps), ", "))
	}
	return p, nil
}

func (s *Service) Keys(ctx context.Context) (KeyList, error) {
	var l KeyList
	l.Backend, l.Problem = s.keyringState(ctx)
	ps, err := s.providers()
	if err != nil {
		return l, err
	}
	for _, name := range gateway.ProviderNames(ps) {
		if ps[name].Keyless {
			continue
		}
		info := KeyInfo{Provider: name}
		if vs := gateway.KeyEnvVars(name); len(vs) > 0 {
			info.EnvVar = vs[0]
		}
		key, err := s.Keyring.Key(ctx, name)
		switch {
		case err == nil:
			info.Masked = store.Mask(key)
			info.Source = s.Keyring.Source(name)
		case errors.Is(err, gateway.ErrNoKey):
		default:
			return l, err
		}
		l.Keys = append(l.Keys, info)
	}
	return l, nil
}

func (s *Service) SetKey(ctx context.Context, provider, key string) error {
	p, err := s.provider(provider)
	if err != nil {
		return err
	}
	defer s.forgetKeyringState()
	return s.Keyring.Set(ctx, p.Name, key)
}

func (s *Service) DeleteKey(ctx context.Context, provider string) error {
	p, err := s.provider(provider)
	if err != nil {
		return err
	}
	return s.Keyring.Delete(ctx, p.Name)
}

func (s *Service) TestKey(ctx context.Context, provider string) (gateway.KeyCheck, error) {
	p, err := s.provider(provider)
	if err != nil {
		return gateway.KeyCheck{}, err
	}
	key := ""
	if !p.Keyless {
		if key, err = s.Keyring.Key(ctx, p.Name); err != nil {
			return gateway.KeyCheck{}, err
		}
	}
	c := s.Client
	if c == nil {
		c = &http.Client{Timeout: 20 * time.Second}
	}
	return s.Proxy.CheckKey(ctx, c, p, key) // a nil Proxy checks too
}

func (s *Service) Tokens(ctx context.Context) ([]store.TokenInfo, error) { return s.DB.Tokens() }

func (s *Service) NewToken(ctx context.Context, name string) (string, error) {
	return s.DB.NewToken(name)
}

func (s *Service) DeleteToken(ctx context.Context, name string) error { return s.DB.DeleteToken(name) }

func (s *Service) Connect(ctx context.Context, tool string, makeToken bool, model string) (ConnectResult, error) {
	addr := s.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	var m *ConnectModel
	if model != "" {
		var err error
		if m, err = s.connectModel(tool, model); err != nil {
			return ConnectResult{}, err
		}
	}
	return connect(ctx, s, "http://"+addr, tool, makeToken, m)
}

// connectModel points the alias named after tool at target, keeping its
// fallbacks, and returns what the tool's recipe needs to run on it.
func (s *Service) connectModel(tool, target string) (*ConnectModel, error) {
	target = strings.TrimSpace(target)
	// The tool must be one whose recipe can choose its model, before an
	// alias is set for it.
	r, err := connectModelRecipe(tool, "http://"+DefaultAddr, TokenPlaceholder, &ConnectModel{Alias: "x", Target: target})
	if err != nil {
		return nil, err
	}
	ps, err := s.providers()
	if err != nil {
		return nil, err
	}
	prices, _, err := s.priceTable()
	if err != nil {
		return nil, err
	}
	a, ok := s.DB.Alias(r.Tool)
	if !ok {
		a = gateway.Alias{Name: r.Tool}
	}
	// The new target leaves the fallbacks; the others stay.
	a.Target = target
	a.Fallbacks = slices.DeleteFunc(a.Fallbacks, func(f string) bool { return gateway.SameTarget(f, target, ps, prices) })
	if a.OverSoft != "" && gateway.SameTarget(a.OverSoft, target, ps, prices) {
		a.OverSoft = ""
	}
	if a, err = s.PutAlias(context.Background(), a); err != nil {
		return nil, err
	}
	m := &ConnectModel{Alias: a.Name, Target: a.Target}
	// A target that is another alias has no one window.
	if tg, err := gateway.ResolveTarget(target, ps, prices); err == nil {
		if row, ok := prices.Lookup(tg.Provider, tg.Model); ok {
			m.ContextWindow, m.MaxOutput = row.ContextWindow, row.MaxOutput
		}
	}
	return m, nil
}

// connect makes tool's recipe for a gateway at base, with a new token named
// after the tool when makeToken is set, running on m when it is not nil.
func connect(ctx context.Context, api API, base, tool string, makeToken bool, m *ConnectModel) (ConnectResult, error) {
	r, err := connectModelRecipe(tool, base, TokenPlaceholder, m)
	if err != nil {
		return ConnectResult{}, err
	}
	var res ConnectResult
	if makeToken {
		ts, err := api.Tokens(ctx)
		if err != nil {
			return ConnectResult{}, err
		}
		taken := map[string]bool{}
		for _, t := range ts {
			taken[t.Name] = true
		}
		for tries := 0; ; tries++ {
			name := connectTokenName(r.Tool, taken)
			secret, err := api.NewToken(ctx, name)
			if errors.Is(err, store.ErrExists) && tries < 100 {
				taken[name] = true // made meanwhile
				continue
			}
			if err != nil {
				return ConnectResult{}, err
			}
			res.TokenName = name
			if r, err = connectModelRecipe(tool, base, secret, m); err != nil {
				return ConnectResult{}, err
			}
			break
		}
	}
	res.Recipe = r
	if res.Text, err = r.Text("sh"); err != nil {
		return ConnectResult{}, err
	}
	return res, nil
}

// priceTable is the embedded table with the saved overrides on top.
// priceTable is the embedded table with the fetched table (sluice prices
// update) over it, and the saved overrides over both.
func (s *Service) priceTable() (*gateway.Prices, int, error) {
	over, err := s.DB.PriceOverrides()
	if err != nil {
		return nil, 0, err
	}
	cur, _, _, err := s.DB.PriceTables()
	if err != nil {
		return nil, 0, err
	}
	t := gateway.DefaultPrices()
	if cur != nil {
		t = t.With(cur.Rows)
	}
	return t.With(over), len(over), nil
}

func (s *Service) Prices(ctx context.Context) (PriceList, error) {
	t, n, err := s.priceTable()
	if err != nil {
		return PriceList{}, err
	}
	l := PriceList{Version: gateway.DefaultPrices().Version(), Sources: gateway.DefaultPrices().Sources(), Overrides: n, Prices: t.All(), Date: gateway.DefaultPrices().Version()}
	cur, _, canRollback, err := s.DB.PriceTables()
	if err != nil {
		return PriceList{}, err
	}
	l.CanRollback = canRollback
	if cur != nil {
		l.Table = &PriceTableInfo{Source: cur.Source, Format: cur.Format, Fetched: cur.Fetched, Rows: len(cur.Rows)}
		l.Date = cur.Fetched.Format("2006-01-02")
	}
	return l, nil
}

func (s *Service) ImportPrices(ctx context.Context, data []byte) (ImportResult, error) {
	rows, format, err := gateway.ParsePrices(data)
	if err != nil {
		return ImportResult{}, err
	}
	if err := s.putOverrides(rows); err != nil {
		return ImportResult{}, err
	}
	return ImportResult{Format: format, Rows: len(rows)}, nil
}

// putOverrides lays rows over the saved price overrides, saves them and
// puts the table they make in force.
func (s *Service) putOverrides(rows []gateway.Price) error {
	over, err := s.DB.PriceOverrides()
	if err != nil {
		return err
	}
	if err := s.DB.PutPriceOverrides(gateway.MergePrices(over, rows)); err != nil {
		return err
	}
	return s.apply()
}

func (s *Service) Budgets(ctx context.Context) ([]store.BudgetStatus, error) { return s.DB.Budgets() }

func (s *Service) PutBudget(ctx context.Context, b gateway.Budget) (gateway.Budget, error) {
	return s.DB.PutBudget(b)
}

func (s *Service) DeleteBudget(ctx context.Context, name string) error {
	return s.DB.DeleteBudget(name)
}

func (s *Service) RaiseBudget(ctx context.Context, name string, by gateway.Money, d time.Duration) (gateway.Budget, error) {
	return s.DB.RaiseBudget(name, by, d)
}

// Settings returns the saved settings; StartAtLogin says whether the OS's
// entry is there, whatever was saved.
func (s *Service) Settings(ctx context.Context) (store.Settings, error) {
	set, err := s.DB.Settings()
	if err != nil || s.Autostart == nil {
		return set, err
	}
	on, err := s.Autostart.Enabled()
	if err != nil {
		return set, err
	}
	set.StartAtLogin = on
	return set, nil
}

func (s *Service) PutSettings(ctx context.Context, set store.Settings) (store.Settings, error) {
	if _, err := gateway.WithUpstreams(gateway.DefaultProviders(), set.Upstreams); err != nil {
		return store.Settings{}, err
	}
	if err := checkSessionHours(set.SessionHours); err != nil {
		return store.Settings{}, err
	}
	old, err := s.Settings(ctx)
	if err != nil {
		return store.Settings{}, err
	}
	if err := checkKeyDestinations(ctx, old, set); err != nil {
		return store.Settings{}, err
	}
	if set.StartAtLogin && s.Autostart == nil {
		return store.Settings{}, &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: ErrNoAutostart.Error() + " on this system"}
	}
	if err := s.DB.PutSettings(set); err != nil {
		return store.Settings{}, err
	}
	if set.StartAtLogin != old.StartAtLogin {
		if err := s.startAtLogin(set.StartAtLogin); err != nil {
			// The saved settings say what the OS does.
			s.DB.PutSettings(old)
			return store.Settings{}, err
		}
	}
	if err := s.apply(); err != nil {
		return store.Settings{}, err
	}
	return set, nil
}

// startAtLogin adds or removes the OS's entry that starts Sluice at login.
func (s *Service) startAtLogin(on bool) error {
	err := s.Autostart.Disable()
	if on {
		err = s.Autostart.Enable()
	}
	if errors.Is(err, ErrNoAutostart) {
		return &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: err.Error()}
	}
	return err
}

// apply hands the saved settings, prices and providers to the proxy
// running in this process.
func (s *Service) apply() error {
	if s.Proxy == nil {
		return nil
	}
	set, err := s.DB.Settings()
	if err != nil {
		return err
	}
	ps, err := s.providers()
	if err != nil {
		return err
	}
	t, _, err := s.priceTable()
	if err != nil {
		return err
	}
	s.Proxy.SetProviders(ps)
	s.Proxy.SetPrices(t)
	g, err := s.DB.Guard()
	if err != nil {
		return err
	}
	// A price change dated in the sources applies from that day in the
	// user's time zone, which the policy carries.
	pol := set.Policy()
	pol.Loop.Allowed = g.LoopAllowed
	pol.Pauses = g.Pauses
	s.Proxy.SetPolicy(pol)
	return nil
}

// knownToken returns an error unless name is a local token (or the name
// Sluice records for callers with their own provider key).
func (s *Service) knownToken(name string) error {
	if name == gateway.ClientKeyToken {
		return nil
	}
	toks, err := s.DB.Tokens()
	if err != nil {
		return err
	}
	for _, t := range toks {
		if t.Name == name {
			return nil
		}
	}
	return fmt.Errorf("token %q: %w (see sluice token ls)", name, errNotFound)
}

func (s *Service) Pause(ctx context.Context, token string, d time.Duration, cut bool) (gateway.Pause, error) {
	if d < 0 {
		return gateway.Pause{}, &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: "a pause cannot last a negative time"}
	}
	if token != "" {
		if err := s.knownToken(token); err != nil {
			return gateway.Pause{}, err
		}
	}
	now := time.Now()
	p := gateway.Pause{Token: token, Since: now, Cut: cut}
	if d > 0 {
		p.Until = now.Add(d)
	}
	_, err := s.DB.UpdateGuard(func(g *store.Guard) error {
		// A new pause of the same scope replaces the old one.
		g.Pauses = slices.DeleteFunc(g.Pauses, func(o gateway.Pause) bool { return o.Token == token })
		g.Pauses = append(g.Pauses, p)
		return nil
	})
	if err != nil {
		return gateway.Pause{}, err
	}
	if err := s.apply(); err != nil {
		return p, err
	}
	cutN := 0
	if cut && s.Proxy != nil {
		cutN = s.Proxy.CutStreams(token)
	}
	if s.Hub != nil {
		what := "Every request is refused"
		if token != "" {
			what = "Requests of token " + token + " are refused"
		}
		until := " until you resume."
		if !p.Until.IsZero() {
			until = " until " + p.Until.Local().Format("15:04:05") + "."
		}
		msg := what + until
		if cutN > 0 {
			msg += fmt.Sprintf(" %d open stream(s) were cut.", cutN)
		}
		s.Hub.raiseLink(gateway.ReasonPause, "Sluice paused", msg, requestsLink(gateway.ReasonPause, ""))
	}
	return p, nil
}

func (s *Service) Resume(ctx context.Context, token string) ([]gateway.Pause, error) {
	var ended []gateway.Pause
	_, err := s.DB.UpdateGuard(func(g *store.Guard) error {
		g.Pauses = slices.DeleteFunc(g.Pauses, func(o gateway.Pause) bool {
			if token == "" || o.Token == token {
				ended = append(ended, o)
				return true
			}
			return false
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if ended == nil {
		ended = []gateway.Pause{}
	}
	if s.Hub != nil {
		s.Hub.bump()
	}
	return ended, s.apply()
}

func (s *Service) AllowLoop(ctx context.Context, token string, d time.Duration) (time.Time, error) {
	if d <= 0 {
		return time.Time{}, &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: "an allowance must last some time"}
	}
	if err := s.knownToken(token); err != nil {
		return time.Time{}, err
	}
	until := time.Now().Add(d)
	_, err := s.DB.UpdateGuard(func(g *store.Guard) error {
		if g.LoopAllowed == nil {
			g.LoopAllowed = map[string]time.Time{}
		}
		g.LoopAllowed[token] = until
		return nil
	})
	if err != nil {
		return time.Time{}, err
	}
	return until, s.apply()
}

// requestsLink is the dashboard route of the requests refused for reason
// (and by budget, if given).
func requestsLink(reason, budget string) string {
	q := url.Values{}
	q.Set("reason", reason)
	if budget != "" {
		q.Set("budget", budget)
	}
	return "requests?" + q.Encode()
}
