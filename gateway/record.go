package gateway

import (
	"context"
	"errors"
	"time"
)

// Usage is the tokens one request used, normalised across dialects.
//
// InputTokens counts every input token, cached and cache-written ones
// included; CachedInputTokens and CacheWriteTokens are parts of it.
// OutputTokens counts every output token, reasoning ones included;
// ReasoningTokens is a part of it.
type Usage struct {
	InputTokens       int64 `json:"input_tokens"`
	OutputTokens      int64 `json:"output_tokens"`
	CachedInputTokens int64 `json:"cached_input_tokens"`
	CacheWriteTokens  int64 `json:"cache_write_tokens"`
	// CacheWrite1hTokens is the part of CacheWriteTokens written with
	// Anthropic's one-hour lifetime, which is priced higher.
	CacheWrite1hTokens int64 `json:"cache_write_1h_tokens,omitempty"`
	ReasoningTokens    int64 `json:"reasoning_tokens"`

	// Parts of the counts above that are not text, as the provider split
	// them by modality; what no modality count claims is text.
	// InputAudioTokens, InputImageTokens and InputVideoTokens are input
	// tokens of that modality not read from a cache; CachedAudioTokens is
	// the part of CachedInputTokens that is audio. The output counts are
	// parts of OutputTokens other than reasoning.
	InputAudioTokens  int64 `json:"input_audio_tokens,omitempty"`
	InputImageTokens  int64 `json:"input_image_tokens,omitempty"`
	InputVideoTokens  int64 `json:"input_video_tokens,omitempty"`
	CachedAudioTokens int64 `json:"cached_audio_tokens,omitempty"`
	OutputAudioTokens int64 `json:"output_audio_tokens,omitempty"`
	OutputImageTokens int64 `json:"output_image_tokens,omitempty"`
	OutputVideoTokens int64 `json:"output_video_tokens,omitempty"`

	// Server-side tool calls the provider reported, billed per call on
	// top of their tokens: web searches (Anthropic's web_search_requests,
	// OpenAI's web_search_call items, Gemini's grounding queries), web
	// fetches (Anthropic; no fee of their own) and code execution runs
	// (Anthropic code execution, OpenAI code interpreter).
	WebSearchCalls     int64 `json:"web_search_calls,omitempty"`
	WebFetchCalls      int64 `json:"web_fetch_calls,omitempty"`
	CodeExecutionCalls int64 `json:"code_execution_calls,omitempty"`

	// ServiceTier is the tier the provider says served the request
	// (OpenAI "default", "flex", "priority"; Anthropic "standard",
	// "priority", "batch"); InferenceGeo is where Anthropic ran it ("us",
	// "global"). Either can change the rates.
	ServiceTier  string `json:"service_tier,omitempty"`
	InferenceGeo string `json:"inference_geo,omitempty"`
	// Speed is Anthropic's report of the output speed that served the
	// request ("standard", or "fast" at a premium).
	Speed string `json:"speed,omitempty"`
}

// IsZero reports whether u holds no tokens at all.
func (u Usage) IsZero() bool { return u == Usage{} }

// Outcome is how a request ended, as recorded in the ledger.
type Outcome string

// Outcomes of a request.
const (
	OutcomeOK       Outcome = "ok"       // upstream answered 2xx and the answer reached the client
	OutcomeError    Outcome = "error"    // upstream answered an error, or could not be reached
	OutcomeBilling  Outcome = "billing"  // upstream said the provider account cannot pay
	OutcomeRefused  Outcome = "refused"  // refused by the runaway guard or admission (a pause, a loop, a token's rate cap, a budget, no price); never forwarded
	OutcomeCut      Outcome = "cut"      // a stream ended early: upstream cut it, or a budget did
	OutcomeCanceled Outcome = "canceled" // the client went away before the answer was complete
	OutcomeCrashed  Outcome = "crashed"  // a hold found open at start-up, charged at its held amount
	OutcomeBlocked  Outcome = "blocked"  // stopped before admission (the guard, authentication, a route or body Sluice refuses); never forwarded
	// OutcomeExpired: a background response whose usage was never read
	// back within its hold's lifetime, charged at its held amount.
	OutcomeExpired Outcome = "expired"
)

// Forwarded reports whether a request that ended so was sent upstream.
// One that was not (refused or blocked) costs nothing, whatever its
// price: the ledger charges it $0 and counts it as refused, and the log
// shows $0, never "unpriced".
func (o Outcome) Forwarded() bool {
	return o != OutcomeRefused && o != OutcomeBlocked
}

// Record is one request as the ledger keeps it.
type Record struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Token    string    `json:"token"` // local token name, "client key", or "" when unauthenticated
	Provider string    `json:"provider"`
	Model    string    `json:"model"`
	Route    string    `json:"route"` // e.g. "openai.chat", "anthropic.messages", "gemini.generateContent"
	// Prompt names the saved prompt the request was made for (POST
	// /p/NAME), "" for every other request.
	Prompt  string  `json:"prompt,omitempty"`
	Stream  bool    `json:"stream"`
	Status  int     `json:"status"`
	Outcome Outcome `json:"outcome"`
	Usage
	Cost Money `json:"cost_usd"`
	// Priced is false when no price was known for the model: Cost is then
	// zero or, with Estimated, the conservative amount that was held.
	Priced    bool `json:"priced"`
	Estimated bool `json:"estimated,omitempty"`
	// Unpriced names the parts of the usage the price row could not
	// price (a token kind, modality, tool fee, service tier or region it
	// lists no rate for). Such a record is partially priced: Cost is the
	// priced part plus what the unpriced-model policy charges for the
	// rest, and the record is marked Estimated.
	Unpriced  []string `json:"unpriced,omitempty"`
	LatencyMS int64    `json:"latency_ms"`
	TTFBMS    int64    `json:"ttfb_ms"`
	// UpstreamID is the provider's request id (x-request-id, request-id...).
	UpstreamID string `json:"upstream_request_id,omitempty"`
	// Held is the amount held before forwarding.
	Held  Money  `json:"held_usd"`
	Error string `json:"error,omitempty"`
	// Reason says why Sluice refused the request (ReasonBudget,
	// ReasonLoop, ReasonPause...); "" for a request it forwarded.
	Reason string `json:"reason,omitempty"`
	// Budget names the budget that refused the request, for refusals.
	Budget string `json:"budget,omitempty"`
	// Remaining is what that budget had left when it refused.
	Remaining *Money `json:"remaining_usd,omitempty"`
	// PriceRef names the price row used: provider/model@date.
	PriceRef string `json:"price,omitempty"`
	// Rates is the price row the cost was computed with, kept so that the
	// arithmetic can be shown after prices change.
	Rates *Price `json:"rates,omitempty"`

	// Alias is the alias the request named, "" when it named a model
	// itself. Provider and Model are then the target that served this
	// attempt; Routed says why it did (RoutedTarget, RoutedFallback,
	// RoutedOverSoft) and RouteNote in words. Each attempt at an alias's
	// targets is a record of its own: Attempt counts them from 1, and
	// After is the ID of the failed attempt this one followed.
	Alias     string `json:"alias,omitempty"`
	Routed    string `json:"routed,omitempty"`
	RouteNote string `json:"route_note,omitempty"`
	Attempt   int    `json:"attempt,omitempty"`
	After     string `json:"after,omitempty"`

	// CallerRoute is the route the caller spoke when Sluice translated
	// its request into the provider's format ("anthropic.messages" for
	// an Anthropic SDK calling an OpenAI model); Route is then the
	// provider's, which was metered. AskedModel is the model the caller
	// named. Both are "" for a request the provider read as it came.
	CallerRoute string `json:"caller_route,omitempty"`
	AskedModel  string `json:"asked_model,omitempty"`

	// RequestBody and ResponseBody are kept only when the user opts in to
	// body logging, cut at maxLoggedBody bytes, with secrets redacted.
	RequestBody  string `json:"request_body,omitempty"`
	ResponseBody string `json:"response_body,omitempty"`
}

// Hold is the worst-case cost of a request, reserved before it is
// forwarded.
type Hold struct {
	ID       string
	Time     time.Time
	Token    string
	Provider string
	Model    string
	Route    string
	Prompt   string `json:",omitempty"` // the saved prompt it is for, if any
	Stream   bool
	Amount   Money
	// Estimated marks a hold for a model with no price (a conservative
	// default amount).
	Estimated bool
}

// Ledger reserves and settles money. Implementations must be safe for
// concurrent use.
type Ledger interface {
	// Hold reserves h.Amount against every budget that applies to it,
	// atomically with respect to every other Hold, and makes the hold
	// durable before it returns. It returns an error wrapping a *Refusal
	// when a budget cannot cover it.
	Hold(ctx context.Context, h Hold) error
	// Settle replaces the hold named by r.ID (if any) with the actual cost
	// in r and appends r to the ledger, exactly once: a second Settle of
	// the same ID is a no-op. The proxy gives it a context with no
	// deadline, as an answer already sent is never left unbilled for
	// time; it tries an erring Settle twice more, then leaves the hold
	// to be charged at the next start.
	Settle(ctx context.Context, r Record) error
}

// Deferrer is the optional capability of a Ledger to keep a request's
// hold open after its answer, for work the provider finishes later: a
// background response, whose usage is known only when it is read back.
// Settle of the deferred record's ID ends the deferral. Without it, such
// a request is charged its hold at once.
type Deferrer interface {
	// Defer keeps the open hold r.ID until the work named key is reported
	// finished, or until until has passed; r is the record to settle
	// then. The deferral is durable before Defer returns.
	Defer(ctx context.Context, key string, r Record, until time.Time) error
	// Deferred returns the record waiting on key, and false when none is.
	Deferred(ctx context.Context, key string) (Record, bool, error)
	// Expire settles every deferred record whose time has passed by now,
	// at its held amount with outcome "expired", marked estimated. It
	// returns how many it charged.
	Expire(ctx context.Context, now time.Time) (int, error)
}

// Refusal is why a budget refused a hold.
type Refusal struct {
	Budget    string        // the budget's name, e.g. "daily global"
	Scope     string        // what it covers, e.g. "all requests", "provider openai"
	Limit     Money         // its limit for the period
	Spent     Money         // settled plus held in this period
	Held      Money         // the part of Spent that open holds reserve (requests in flight)
	Remaining Money         // Limit - Spent, never below zero
	Resets    time.Time     // zero for a total budget; for a rolling one, when enough spend ages out
	Window    time.Duration // a rolling budget's length; zero for a calendar one
	Wanted    Money         // the amount asked for
	// Raise is a raise of the limit that would let the request through:
	// the shortfall in whole dollars, at least one. The answer to the
	// caller words it as the command that makes it.
	Raise Money
}

func (r *Refusal) Error() string {
	return "budget " + r.Budget + " exceeded"
}

// ErrUnknownToken is returned by TokenSource for a secret that names no
// local token.
var ErrUnknownToken = errors.New("unknown local token")

// KeySource gives provider API keys. Implementations must be safe for
// concurrent use and should answer from memory after the first call.
type KeySource interface {
	// Key returns provider's key, or an error wrapping ErrNoKey.
	Key(ctx context.Context, provider string) (string, error)
}

// ErrNoKey is returned by a KeySource with no key for a provider.
var ErrNoKey = errors.New("no key stored")

// TokenSource resolves local tokens (sk-sluice-...). Implementations must be
// safe for concurrent use.
type TokenSource interface {
	// Token returns the name of the local token whose secret is secret, or
	// ErrUnknownToken.
	Token(ctx context.Context, secret string) (name string, err error)
}
