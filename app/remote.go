package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// ServeInfo is what a running gateway writes to serve.json in its data
// directory (mode 0600): where it listens, for people and for `sluice env`
// when asked offline. The command line never sends anything to that
// address; it reaches the gateway over the control socket.
type ServeInfo struct {
	Addr string `json:"addr"` // host:port it listens on
	PID  int    `json:"pid"`  // its process id
}

// ServeInfoFile is the name of the file ServeInfo is written to.
const ServeInfoFile = "serve.json"

// ReadServeInfo reads the serve.json of a data directory.
func ReadServeInfo(dataDir string) (ServeInfo, error) {
	var si ServeInfo
	b, err := os.ReadFile(filepath.Join(dataDir, ServeInfoFile))
	if err != nil {
		return si, err
	}
	if err := json.Unmarshal(b, &si); err != nil {
		return si, fmt.Errorf("read %s: %w", ServeInfoFile, err)
	}
	return si, nil
}

// Remote answers the API through a running gateway, over its control
// socket. Make one with Dial. It is safe for concurrent use.
type Remote struct {
	Socket string // the control socket's path

	once   sync.Once
	client *http.Client // every connection to Socket; no overall timeout
}

var _ API = (*Remote)(nil)

func (c *Remote) httpClient() *http.Client {
	c.once.Do(func() { c.client = &http.Client{Transport: socketTransport(c.Socket)} })
	return c.client
}

func (c *Remote) request(ctx context.Context, method, name string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://sluice/api/"+name, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

// do calls method name with in and decodes its result into out.
func (c *Remote) do(ctx context.Context, name string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := c.request(ctx, http.MethodPost, name, bytes.NewReader(b))
	if err != nil {
		return err
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("reach the running sluice on %s: %w", c.Socket, err)
	}
	defer resp.Body.Close()
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  *apiError       `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("running sluice answered HTTP %d: %w", resp.StatusCode, err)
	}
	if env.Error != nil {
		return remoteError(env.Error)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(env.Result, out)
}

// remoteError turns an API error back into one that errors.Is can test,
// with the running gateway's message as it was.
func remoteError(e *apiError) error {
	var is error
	switch e.Code {
	case "not_found":
		is = errNotFound
	case "no_keyring":
		is = store.ErrNoKeyring
	case "exists":
		is = store.ErrExists
	case "not_serving":
		is = errNotServing
	case "invalid":
		is = store.ErrInvalid
	case "alias_case":
		is = &store.AliasCaseError{Existing: e.Existing}
	}
	return &wireError{msg: e.Message, is: is}
}

// wireError is an error that came over the API: its message, and the
// sentinel it stands for, if any.
type wireError struct {
	msg string
	is  error
}

func (e *wireError) Error() string { return e.msg }
func (e *wireError) Unwrap() error { return e.is }

func (c *Remote) Spend(ctx context.Context, q store.SpendQuery) (rows []store.SpendRow, err error) {
	return rows, c.do(ctx, "spend", q, &rows)
}

func (c *Remote) Records(ctx context.Context, q store.LogQuery) (recs []gateway.Record, err error) {
	return recs, c.do(ctx, "records", q, &recs)
}

func (c *Remote) Follow(ctx context.Context, fn func(gateway.Record)) error {
	req, err := c.request(ctx, http.MethodGet, "follow", nil)
	if err != nil {
		return err
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return fmt.Errorf("reach the running sluice on %s: %w", c.Socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("running sluice answered HTTP %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var r gateway.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("read record: %w", err)
		}
		fn(r)
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("the running sluice stopped")
}

func (c *Remote) Keys(ctx context.Context) (l KeyList, err error) {
	return l, c.do(ctx, "keys", nil, &l)
}

func (c *Remote) SetKey(ctx context.Context, provider, key string) error {
	return c.do(ctx, "key.set", keyArgs{Provider: provider, Key: key}, nil)
}

func (c *Remote) DeleteKey(ctx context.Context, provider string) error {
	return c.do(ctx, "key.delete", keyArgs{Provider: provider}, nil)
}

func (c *Remote) TestKey(ctx context.Context, provider string) (kc gateway.KeyCheck, err error) {
	return kc, c.do(ctx, "key.test", keyArgs{Provider: provider}, &kc)
}

func (c *Remote) Tokens(ctx context.Context) (ts []store.TokenInfo, err error) {
	return ts, c.do(ctx, "tokens", nil, &ts)
}

func (c *Remote) NewToken(ctx context.Context, name string) (secret string, err error) {
	return secret, c.do(ctx, "token.new", nameArgs{name}, &secret)
}

func (c *Remote) DeleteToken(ctx context.Context, name string) error {
	return c.do(ctx, "token.delete", nameArgs{name}, nil)
}

func (c *Remote) Prices(ctx context.Context) (l PriceList, err error) {
	return l, c.do(ctx, "prices", nil, &l)
}

func (c *Remote) ImportPrices(ctx context.Context, data []byte) (r ImportResult, err error) {
	return r, c.do(ctx, "prices.import", importArgs{Data: string(data)}, &r)
}

func (c *Remote) Budgets(ctx context.Context) (bs []store.BudgetStatus, err error) {
	return bs, c.do(ctx, "budgets", nil, &bs)
}

func (c *Remote) PutBudget(ctx context.Context, b gateway.Budget) (out gateway.Budget, err error) {
	return out, c.do(ctx, "budget.put", b, &out)
}

func (c *Remote) DeleteBudget(ctx context.Context, name string) error {
	return c.do(ctx, "budget.delete", nameArgs{name}, nil)
}

func (c *Remote) RaiseBudget(ctx context.Context, name string, by gateway.Money, d time.Duration) (out gateway.Budget, err error) {
	return out, c.do(ctx, "budget.raise", raiseArgs{Name: name, By: by, For: d.String()}, &out)
}

func (c *Remote) Settings(ctx context.Context) (s store.Settings, err error) {
	return s, c.do(ctx, "settings", nil, &s)
}

func (c *Remote) PutSettings(ctx context.Context, in store.Settings) (s store.Settings, err error) {
	return s, c.do(ctx, "settings.put", in, &s)
}

func (c *Remote) Status(ctx context.Context) (s Status, err error) {
	return s, c.do(ctx, "status", nil, &s)
}

func (c *Remote) Changes(ctx context.Context) (ch Changes, err error) {
	return ch, c.do(ctx, "changes", nil, &ch)
}

func (c *Remote) Notices(ctx context.Context, since int64) (ns []Notice, err error) {
	return ns, c.do(ctx, "notices", sinceArgs{since}, &ns)
}

func (c *Remote) Summary(ctx context.Context) (s Summary, err error) {
	return s, c.do(ctx, "summary", nil, &s)
}

func (c *Remote) RecordDetail(ctx context.Context, id string) (d RecordDetail, err error) {
	return d, c.do(ctx, "record", idArgs{id}, &d)
}

func (c *Remote) PutPrice(ctx context.Context, p gateway.Price) error {
	return c.do(ctx, "price.put", priceArgs{p}, nil)
}

func (c *Remote) UpdatePrices(ctx context.Context, source string, data []byte) (r PriceUpdate, err error) {
	return r, c.do(ctx, "prices.update", updateArgs{Source: source, Data: data}, &r)
}

func (c *Remote) RollbackPrices(ctx context.Context) (r PriceUpdate, err error) {
	return r, c.do(ctx, "prices.rollback", nil, &r)
}

func (c *Remote) Connect(ctx context.Context, tool string, makeToken bool, model string) (r ConnectResult, err error) {
	return r, c.do(ctx, "connect", connectArgs{Tool: tool, Token: makeToken, Model: model}, &r)
}

func (c *Remote) Login(ctx context.Context) (link string, err error) {
	return link, c.do(ctx, "login", nil, &link)
}

func (c *Remote) Pause(ctx context.Context, token string, d time.Duration, cut bool) (p gateway.Pause, err error) {
	return p, c.do(ctx, "pause", pauseArgs{Token: token, For: durationArg(d), Cut: cut}, &p)
}

func (c *Remote) Resume(ctx context.Context, token string) (ended []gateway.Pause, err error) {
	return ended, c.do(ctx, "resume", pauseArgs{Token: token}, &ended)
}

func (c *Remote) AllowLoop(ctx context.Context, token string, d time.Duration) (until time.Time, err error) {
	return until, c.do(ctx, "loop.allow", pauseArgs{Token: token, For: d.String()}, &until)
}

func (c *Remote) Prompts(ctx context.Context) (ps []gateway.Prompt, err error) {
	return ps, c.do(ctx, "prompts", nil, &ps)
}

func (c *Remote) Prompt(ctx context.Context, name string, v int) (p gateway.Prompt, err error) {
	return p, c.do(ctx, "prompt", promptArgs{Name: name, Version: v}, &p)
}

func (c *Remote) PromptVersions(ctx context.Context, name string) (ps []gateway.Prompt, err error) {
	return ps, c.do(ctx, "prompt.versions", nameArgs{name}, &ps)
}

func (c *Remote) PutPrompt(ctx context.Context, in gateway.Prompt) (p gateway.Prompt, err error) {
	return p, c.do(ctx, "prompt.put", in, &p)
}

func (c *Remote) DeletePrompt(ctx context.Context, name string) error {
	return c.do(ctx, "prompt.delete", nameArgs{name}, nil)
}

func (c *Remote) RollbackPrompt(ctx context.Context, name string, to int) (p gateway.Prompt, err error) {
	return p, c.do(ctx, "prompt.rollback", promptArgs{Name: name, Version: to}, &p)
}

func (c *Remote) PreviewPrompt(ctx context.Context, in PromptInput) (pv gateway.PromptPreview, err error) {
	return pv, c.do(ctx, "prompt.preview", in, &pv)
}

func (c *Remote) RunPrompt(ctx context.Context, in PromptRun) (r gateway.PromptResult, err error) {
	return r, c.do(ctx, "prompt.run", in, &r)
}

func (c *Remote) PromptSpend(ctx context.Context) (rows []store.SpendRow, err error) {
	return rows, c.do(ctx, "prompt.spend", nil, &rows)
}

// RemoteHandler serves the dashboard's API calls from the gateway running
// on dir, for a window opened while another process owns the data: it
// forwards them over the control socket.
func RemoteHandler(dir string) http.Handler {
	return &httputil.ReverseProxy{
		Transport: socketTransport(controlPath(dir)),
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(&url.URL{Scheme: "http", Host: "sluice"})
			for _, h := range []string{"Origin", "Referer", "Cookie", "Sec-Fetch-Site", "Sec-Fetch-Mode", "Sec-Fetch-Dest"} {
				r.Out.Header.Del(h)
			}
			r.Out.Header.Set(windowHeader, "1") // the dashboard, not the command line
		},
	}
}
