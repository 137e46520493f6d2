package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// The JSON API: POST /api/{method} with the method's argument as the JSON
// body answers {"result": ...} or {"error": {"code": ..., "message": ...}};
// GET /api/follow is a text/event-stream of records as they settle.

type keyArgs struct {
	Provider string `json:"provider"`
	Key      string `json:"key,omitempty"`
}

type nameArgs struct {
	Name string `json:"name"`
}

type raiseArgs struct {
	Name string        `json:"name"`
	By   gateway.Money `json:"by_usd"`
	For  string        `json:"for"` // a Go duration: "1h", "30m"
}

// pauseArgs are the arguments of pause, resume and loop.allow.
type pauseArgs struct {
	Token string `json:"token,omitempty"`
	For   string `json:"for,omitempty"` // a Go duration; "" (pause: until resumed)
	Cut   bool   `json:"cut,omitempty"` // pause: cut open streams
}

// durationArg writes d for a pauseArgs: "" for 0.
func durationArg(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func (a pauseArgs) duration() (time.Duration, error) {
	if a.For == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(a.For)
	if err != nil {
		return 0, &apiError{Status: http.StatusBadRequest, Code: "bad_request", Message: fmt.Sprintf("duration %q: %v", a.For, err)}
	}
	return d, nil
}

type sinceArgs struct {
	Since int64 `json:"since"`
}

type idArgs struct {
	ID string `json:"id"`
}

type promptArgs struct {
	Name    string `json:"name"`
	Version int    `json:"version,omitempty"`
}

type priceArgs struct {
	Price gateway.Price `json:"price"`
}

type updateArgs struct {
	Source string `json:"source,omitempty"`
	Data   []byte `json:"data,omitempty"` // base64 in JSON
}

type connectArgs struct {
	Tool  string `json:"tool"`
	Token bool   `json:"make_token"`
	Model string `json:"model,omitempty"` // a target: the tool runs on it through an alias
}

type importArgs struct {
	Data string `json:"data"`
}

// method is one API call: it decodes its argument, calls api, and returns
// the result to encode.
type method func(ctx context.Context, api API, arg json.RawMessage) (any, error)

func call[In, Out any](f func(API, context.Context, In) (Out, error)) method {
	return func(ctx context.Context, api API, arg json.RawMessage) (any, error) {
		var in In
		if len(arg) > 0 && string(arg) != "null" {
			if err := json.Unmarshal(arg, &in); err != nil {
				return nil, &apiError{Status: http.StatusBadRequest, Code: "bad_request", Message: "bad argument: " + err.Error()}
			}
		}
		return f(api, ctx, in)
	}
}

type none struct{}

var methods = map[string]method{
	"spend": call(func(a API, ctx context.Context, q store.SpendQuery) ([]store.SpendRow, error) { return a.Spend(ctx, q) }),
	"records": call(func(a API, ctx context.Context, q store.LogQuery) ([]logRow, error) {
		return logRows(a.Records(ctx, q))
	}),
	"keys": call(func(a API, ctx context.Context, _ none) (KeyList, error) { return a.Keys(ctx) }),
	"key.set": call(func(a API, ctx context.Context, k keyArgs) (none, error) {
		return none{}, a.SetKey(ctx, k.Provider, k.Key)
	}),
	"key.delete": call(func(a API, ctx context.Context, k keyArgs) (none, error) {
		return none{}, a.DeleteKey(ctx, k.Provider)
	}),
	"key.test": call(func(a API, ctx context.Context, k keyArgs) (gateway.KeyCheck, error) {
		return a.TestKey(ctx, k.Provider)
	}),
	"tokens": call(func(a API, ctx context.Context, _ none) ([]store.TokenInfo, error) { return a.Tokens(ctx) }),
	"token.new": call(func(a API, ctx context.Context, n nameArgs) (string, error) {
		return a.NewToken(ctx, n.Name)
	}),
	"token.delete": call(func(a API, ctx context.Context, n nameArgs) (none, error) {
		return none{}, a.DeleteToken(ctx, n.Name)
	}),
	"prices.update": call(func(a API, ctx context.Context, in updateArgs) (PriceUpdate, error) {
		return a.UpdatePrices(ctx, in.Source, in.Data)
	}),
	"prices.rollback": call(func(a API, ctx context.Context, _ none) (PriceUpdate, error) {
		return a.RollbackPrices(ctx)
	}),
	"connect": call(func(a API, ctx context.Context, in connectArgs) (ConnectResult, error) {
		return a.Connect(ctx, in.Tool, in.Token, in.Model)
	}),
	"prices": call(func(a API, ctx context.Context, _ none) (PriceList, error) { return a.Prices(ctx) }),
	"prices.import": call(func(a API, ctx context.Context, in importArgs) (ImportResult, error) {
		return a.ImportPrices(ctx, []byte(in.Data))
	}),
	"budgets": call(func(a API, ctx context.Context, _ none) ([]store.BudgetStatus, error) { return a.Budgets(ctx) }),
	"budget.put": call(func(a API, ctx context.Context, b gateway.Budget) (gateway.Budget, error) {
		return a.PutBudget(ctx, b)
	}),
	"budget.delete": call(func(a API, ctx context.Context, n nameArgs) (none, error) {
		return none{}, a.DeleteBudget(ctx, n.Name)
	}),
	"budget.raise": call(func(a API, ctx context.Context, r raiseArgs) (gateway.Budget, error) {
		d, err := time.ParseDuration(r.For)
		if err != nil {
			return gateway.Budget{}, &apiError{Status: http.StatusBadRequest, Code: "bad_request", Message: fmt.Sprintf("duration %q: %v", r.For, err)}
		}
		return a.RaiseBudget(ctx, r.Name, r.By, d)
	}),
	"pause": call(func(a API, ctx context.Context, in pauseArgs) (gateway.Pause, error) {
		d, err := in.duration()
		if err != nil {
			return gateway.Pause{}, err
		}
		return a.Pause(ctx, in.Token, d, in.Cut)
	}),
	"resume": call(func(a API, ctx context.Context, in pauseArgs) ([]gateway.Pause, error) {
		return a.Resume(ctx, in.Token)
	}),
	"loop.allow": call(func(a API, ctx context.Context, in pauseArgs) (time.Time, error) {
		d, err := in.duration()
		if err != nil {
			return time.Time{}, err
		}
		if d == 0 {
			d = time.Hour
		}
		return a.AllowLoop(ctx, in.Token, d)
	}),
	"status":  call(func(a API, ctx context.Context, _ none) (Status, error) { return a.Status(ctx) }),
	"changes": call(func(a API, ctx context.Context, _ none) (Changes, error) { return a.Changes(ctx) }),
	"notices": call(func(a API, ctx context.Context, in sinceArgs) ([]Notice, error) { return a.Notices(ctx, in.Since) }),
	"summary": call(func(a API, ctx context.Context, _ none) (Summary, error) { return a.Summary(ctx) }),
	"record": call(func(a API, ctx context.Context, in idArgs) (RecordDetail, error) {
		return a.RecordDetail(ctx, in.ID)
	}),
	"price.put": call(func(a API, ctx context.Context, in priceArgs) (none, error) {
		return none{}, a.PutPrice(ctx, in.Price)
	}),
	"prompts": call(func(a API, ctx context.Context, _ none) ([]gateway.Prompt, error) { return a.Prompts(ctx) }),
	"prompt": call(func(a API, ctx context.Context, in promptArgs) (gateway.Prompt, error) {
		return a.Prompt(ctx, in.Name, in.Version)
	}),
	"prompt.versions": call(func(a API, ctx context.Context, n nameArgs) ([]gateway.Prompt, error) {
		return a.PromptVersions(ctx, n.Name)
	}),
	"prompt.put": call(func(a API, ctx context.Context, p gateway.Prompt) (gateway.Prompt, error) {
		return a.PutPrompt(ctx, p)
	}),
	"prompt.delete": call(func(a API, ctx context.Context, n nameArgs) (none, error) {
		return none{}, a.DeletePrompt(ctx, n.Name)
	}),
	"prompt.rollback": call(func(a API, ctx context.Context, in promptArgs) (gateway.Prompt, error) {
		return a.RollbackPrompt(ctx, in.Name, in.Version)
	}),
	"prompt.preview": call(func(a API, ctx context.Context, in PromptInput) (gateway.PromptPreview, error) {
		return a.PreviewPrompt(ctx, in)
	}),
	"prompt.run": call(func(a API, ctx context.Context, in PromptRun) (gateway.PromptResult, error) {
		return a.RunPrompt(ctx, in)
	}),
	"prompt.spend": call(func(a API, ctx context.Context, _ none) ([]store.SpendRow, error) { return a.PromptSpend(ctx) }),
	"aliases":      call(func(a API, ctx context.Context, _ none) ([]gateway.Alias, error) { return a.Aliases(ctx) }),
	"alias.put": call(func(a API, ctx context.Context, in gateway.Alias) (gateway.Alias, error) {
		return a.PutAlias(ctx, in)
	}),
	"alias.delete": call(func(a API, ctx context.Context, n nameArgs) (none, error) {
		return none{}, a.DeleteAlias(ctx, n.Name)
	}),
	"login": call(func(a API, ctx context.Context, _ none) (string, error) { return a.Login(ctx) }),
	"settings": call(func(a API, ctx context.Context, _ none) (settingsReply, error) {
		s, err := a.Settings(ctx)
		return settingsReply{s, currentDefaults()}, err
	}),
	"settings.put": call(func(a API, ctx context.Context, s store.Settings) (settingsReply, error) {
		s, err := a.PutSettings(ctx, s)
		return settingsReply{s, currentDefaults()}, err
	}),
}

// settingsReply is the settings as the API answers them: with what a value
// left unset (0) stands for, and the bounds a value may take, so that the
// settings page copies none of the gateway's defaults.
type settingsReply struct {
	store.Settings
	Defaults settingsDefaults `json:"defaults"`
}

// settingsDefaults are the values the settings' zero values stand for,
// and their bounds.
type settingsDefaults struct {
	UnpricedHold  gateway.Money `json:"unpriced_hold_usd"`
	LoopLimit     int           `json:"loop_limit"`
	LoopLimitMax  int           `json:"loop_limit_max"`
	LoopWindow    int           `json:"loop_window_s"`
	LoopWindowMax int           `json:"loop_window_max_s"`
	FallbackAfter int           `json:"fallback_after_s"`
	SessionHours  int           `json:"session_hours"`
	Soft          int           `json:"soft_pct"` // a budget's soft threshold, in percent
}

func currentDefaults() settingsDefaults {
	return settingsDefaults{
		UnpricedHold:  gateway.DefaultUnpricedHold,
		LoopLimit:     gateway.DefaultLoopLimit,
		LoopLimitMax:  gateway.MaxLoopLimit,
		LoopWindow:    int(gateway.DefaultLoopWindow / time.Second),
		LoopWindowMax: int(gateway.MaxLoopWindow / time.Second),
		FallbackAfter: int(gateway.DefaultFallbackAfter / time.Second),
		SessionHours:  int(defaultSessionIdle / time.Hour),
		Soft:          gateway.DefaultSoft,
	}
}

// apiError is an error with the status and code the API answers it with.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// Existing names the alias an "alias_case" refusal clashes with, so
	// that each interface can say in its own words how to remove it.
	Existing string `json:"existing,omitempty"`
}

func (e *apiError) Error() string { return e.Message }

// toAPIError maps an error to its status and code: the one place where
// Sluice's errors become HTTP statuses for the API.
func toAPIError(err error) *apiError {
	var (
		ae *apiError
		ce *store.AliasCaseError
	)
	if pe, ok := promptAPIError(err); ok {
		return pe
	}
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ce):
		return &apiError{Status: http.StatusBadRequest, Code: "alias_case", Message: err.Error(), Existing: ce.Existing}
	case errors.Is(err, gateway.ErrInvalidPrompt):
		return &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: err.Error()}
	case errors.Is(err, errNotFound), errors.Is(err, store.ErrNotFound), errors.Is(err, gateway.ErrNoKey):
		return &apiError{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}
	case errors.Is(err, gateway.ErrInvalidBudget), errors.Is(err, gateway.ErrInvalidAlias), errors.Is(err, errNoModelChoice), errors.Is(err, gateway.ErrBadMoney), errors.Is(err, store.ErrInvalid), errors.Is(err, gateway.ErrPriceFormat),
		errors.Is(err, gateway.ErrInvalidPrice), errors.Is(err, gateway.ErrInvalidUpstream), errors.Is(err, gateway.ErrInvalidPolicy):
		return &apiError{Status: http.StatusBadRequest, Code: "invalid", Message: err.Error()}
	case errors.Is(err, errNotServing):
		return &apiError{Status: http.StatusConflict, Code: "not_serving", Message: err.Error()}
	case errors.Is(err, store.ErrExists):
		return &apiError{Status: http.StatusConflict, Code: "exists", Message: err.Error()}
	case errors.Is(err, store.ErrNoKeyring):
		return &apiError{Status: http.StatusServiceUnavailable, Code: "no_keyring", Message: err.Error()}
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "internal", Message: err.Error()}
}

// apiHandler serves the JSON API of api under /api/. authorized decides
// whether a request may use it.
func apiHandler(api API, authorized func(*http.Request) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if !authorized(r) {
			writeAPIError(w, &apiError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "sign in to Sluice first"})
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/api/")
		if name == "follow" && r.Method == http.MethodGet {
			serveFollow(w, r, api)
			return
		}
		if name == "export" && r.Method == http.MethodGet {
			serveExport(w, r, api)
			return
		}
		m, ok := methods[name]
		if !ok {
			writeAPIError(w, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: "no API method " + strconvQuote(name)})
			return
		}
		if r.Method != http.MethodPost {
			writeAPIError(w, &apiError{Status: http.StatusMethodNotAllowed, Code: "method", Message: "use POST"})
			return
		}
		// JSON only: a form or text body, which any web page can send
		// without asking, is not an API call.
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			writeAPIError(w, &apiError{Status: http.StatusUnsupportedMediaType, Code: "content_type", Message: "the API takes Content-Type: application/json"})
			return
		}
		// The body must arrive within a minute; the deadline is lifted
		// once it is in.
		rc := http.NewResponseController(w)
		rc.SetReadDeadline(time.Now().Add(time.Minute))
		arg, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<20))
		rc.SetReadDeadline(time.Time{})
		if err != nil {
			writeAPIError(w, &apiError{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: err.Error()})
			return
		}
		res, err := m(r.Context(), api, arg)
		if err != nil {
			writeAPIError(w, toAPIError(err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"result": res})
	})
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}

func serveFollow(w http.ResponseWriter, r *http.Request, api API) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc.Flush()
	ctx := r.Context()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	recs := make(chan gateway.Record, 64)
	done := make(chan error, 1)
	go func() {
		done <- api.Follow(ctx, func(rec gateway.Record) {
			select {
			case recs <- rec:
			case <-ctx.Done():
			}
		})
	}()
	for {
		select {
		case <-ctx.Done():
			<-done
			return
		case err := <-done:
			if err != nil {
				fmt.Fprintf(w, "event: error\ndata: %q\n\n", err.Error())
				rc.Flush()
			}
			return
		case <-ping.C:
			io.WriteString(w, ": ping\n\n")
			rc.Flush()
		case rec := <-recs:
			b, _ := json.Marshal(rec)
			fmt.Fprintf(w, "data: %s\n\n", b)
			rc.Flush()
		}
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
