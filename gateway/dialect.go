package gateway

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// A dialect is one wire format Sluice speaks: OpenAI's (spoken by OpenAI
// and every OpenAI-compatible provider), Anthropic's Messages API and
// Google's Gemini API, each a value in a file of its own (openai.go,
// anthropic.go, gemini.go). It is everything the request path knows
// about a format, in two parts: what the format is, as data (info: its
// name, the routes it forwards, where its SDKs put a key and where its
// providers read one, how a key is checked, which errors say an account
// cannot pay...), and what it does, as the few methods below (which
// dialect a path is, what a request body says about its cost, where an
// answer reports its usage, how a stream is cut and how an error is
// shaped). The request path calls the dialect and never asks which one
// it is.
//
// A provider that speaks an existing format is a row of the provider
// table (provider.go); a new format is a new file holding one more value,
// listed in builtinDialects. A dialect may offer more, discovered by type
// assertion: a promptDialect can carry a stored prompt, and a
// backgroundDialect (background.go) can run an answer in the background.
//
// Dialects hold no state: each method is safe for concurrent use.
type dialect interface {
	// info is what the dialect is, as data: the same value on every
	// call, never changed.
	info() *dialectInfo

	// Routing.

	// claim reports whether a path that names no provider (no
	// /{provider}/ prefix) is this dialect's, and which provider serves
	// it; "" leaves the provider to the request's model on metered
	// routes. h is the request's headers: some paths are the same in
	// several APIs.
	claim(method, path string, h http.Header) (provider string, byModel, ok bool)
	// owns reports whether a path is this dialect's beyond doubt, to
	// answer a request in its words before its route is known.
	owns(path string) bool

	// Reading a request, before it goes.

	// inspect reads what a request body on rt says about its model,
	// streaming and output bound (MaxOutput per choice, Choices), and
	// notes in s what the body holds without spelling it out (overhead)
	// or draws from outside itself (unbounded). The caller adds what
	// every format's content parts say.
	inspect(rt route, obj jsonObject) (info requestInfo, s inputScan)
	// part notes, in s, a content part of this format's spelling that is
	// an image, a document, audio or video: what a body's length does not
	// tell. typ is the text of the part's "type" member, empty when it
	// has none; m is its members. Every known format's parts are looked
	// for in every body (see bodyWalk), so a spelling belongs to exactly
	// one format.
	part(typ []byte, m jsonObject, s *inputScan)
	// imageTokens bounds the input tokens of one image sent to model.
	imageTokens(model string) int64
	// billing reads the rates and fees a request body whose output is
	// bounded by outBound tokens can be billed at beyond its tokens (see
	// searchBound), from inspectRequest's walk of it. It runs on every
	// metered request: a body whose top-level members include none of
	// those the format's fees sit in (and that holds no audio part) must
	// be let go without a search of the body or any decoding.
	billing(in feeInput, outBound int64) billing
	// prepare returns the body to send upstream: a stream whose usage is
	// reported only when asked asks for it. hide says the caller had not
	// asked, so the meter hides what it was not going to see.
	prepare(rt route, info requestInfo, body []byte) (out []byte, hide bool)

	// Reading the answer.

	// usage reads the usage a whole (non-stream) answer reports, and the
	// model it names, as the raw JSON string in body (quotes included;
	// nil when it names none): a caller that wants it unquotes it,
	// which the request path, knowing its model, rarely does. ok is
	// false when it reports none.
	usage(rt route, body []byte) (u Usage, model []byte, ok bool)
	// meter returns the state that follows one stream on rt event by
	// event.
	meter(rt route) eventMeter
	// errorOf reads an error answer a provider sent in this dialect's
	// shape (its type, code, status and message, as far as the format
	// has them); ok is false when body is no such answer.
	errorOf(body []byte) (e apiError, ok bool)

	// Answering in the dialect's own words.

	// errorBody is an error answer in the dialect's own shape, which its
	// SDKs raise as their usual error type with msg in it.
	errorBody(status int, kind errKind, msg string) []byte
	// cutEvent is a terminal error event that ends a stream Sluice cuts,
	// in the dialect's words, numbered seq where the dialect numbers its
	// events (see streamMeter.cut).
	cutEvent(rt route, kind errKind, msg string, seq int64) []byte
}

// dialectInfo is what a dialect is, as data rather than behaviour. Each
// dialect keeps one in a package variable and returns it from info; it
// is never changed, so it is safe for concurrent use.
type dialectInfo struct {
	// name is the dialect's name, as Provider.Dialect spells it.
	name string
	// provider is the provider of the format's own API ("openai"): the
	// one a request goes to when nothing else chooses.
	provider string

	// endpoints is the allow-list: each (method, path) forwarded, paths
	// after the version segment.
	endpoints []endpoint
	// versions are the version segments the API serves, the one its
	// endpoints are listed under first. versionOptional: its SDKs may
	// leave the version out (a path without one is under versions[0]).
	versions        []string
	versionOptional bool
	// baseHasVersion: the providers' base URLs end in the version
	// segment (OpenAI's /v1), so a route's path goes under the base
	// without it.
	baseHasVersion bool
	// compat: providers of other formats serve this one under their
	// Provider.OpenAIPath (Anthropic's and Gemini's OpenAI-compatible
	// endpoints).
	compat bool
	// baseURLHint says which base URL this dialect's SDKs take, for a
	// request on a path Sluice has no route for.
	baseURLHint string
	// sseParam, when set, is the query parameter and value without which
	// a stream is not answered in server-sent events (Gemini's alt=sse;
	// without it, one JSON array).
	sseParam [2]string
	// output says where the format's stream events carry generated
	// output, to count its bytes as a stream is sliced (shown).
	output shownSpec

	// sdkHeaders are headers only this dialect's SDKs send: a request
	// carrying one is in this dialect.
	sdkHeaders []string
	// keyHeaders are the headers, besides Authorization, that this
	// dialect's SDKs carry a key in.
	keyHeaders []string
	// keyParams are the query parameters this dialect's SDKs carry a key
	// in, read before the shared credentialParams.
	keyParams []string
	// keyHeader is the header the providers read a key from; "" for Authorization, as a bearer token. A key the
	// caller sent as a bearer token that has one of bearerKeys prefixes
	// stays one (a Claude subscription's OAuth token, "sk-ant-oat").
	keyHeader  string
	bearerKeys []string
	// keyCheck is the path and query, under a provider's base URL, of
	// the cheapest authenticated call (listing its models), and
	// keyCheckHeader the headers it needs besides the key; keyRefused
	// are the statuses of its answer that mean the key was refused.
	keyCheck       string
	keyCheckHeader http.Header
	keyRefused     []int

	// billingCodes are error types or codes, in lower case, that say the
	// account cannot pay (OpenAI's insufficient_quota, Anthropic's
	// billing_error); limitCodes are those that say a rate limit or an
	// overload, which is never billing whatever its message says, and
	// limitStatuses the statuses, as the format spells them, that say
	// the same (Gemini's RESOURCE_EXHAUSTED).
	billingCodes, limitCodes, limitStatuses []string
	// billingWords are phrases in lower case that this format's providers
	// put in an error's message (or a stream's error event) when the
	// account cannot pay. They are phrases, not the bare word "billing":
	// rate-limit messages link to billing pages too.
	billingWords []string
	// openingEvents name the events a stream may open with before its
	// answer begins (Anthropic's message_start and ping).
	openingEvents []string
	// conversation are the members of a request body, in the order
	// looked at, that hold its messages (or its prompt), last message
	// last; textMembers are those of a message or a part that hold its
	// text or its parts. They show a request by its words (a loop's
	// refusal names the message repeated).
	conversation, textMembers []string
	// requestIDHeaders are the headers, in the order looked at, that
	// this format's providers name a request's id in (OpenAI's
	// X-Request-Id); see upstreamRequestID.
	requestIDHeaders []string
	// modelMember is the member of a request body that names its model
	// ("model"), which an alias or a provider's own spelling of the
	// model rewrites; "" for a format that names it in the path.
	modelMember string
}

// apiError is an error a provider reported, as its dialect reads it:
// whichever of a type, a code and a status its format has, and the
// message.
type apiError struct {
	Type, Code, Status, Message string
}

// text renders e for a log line and a record: its type (else its status,
// else its code) and its message.
func (e apiError) text() string {
	kind := e.Type
	if kind == "" {
		kind = e.Status
	}
	if kind == "" {
		kind = e.Code
	}
	return joinError(kind, e.Message)
}

// billingOf reports what di's codes say of e: whether the account cannot
// pay; known is false when they say nothing of it.
func (di *dialectInfo) billingOf(e apiError) (billing, known bool) {
	for _, v := range [...]string{e.Type, e.Code} {
		if v == "" {
			continue
		}
		v = strings.ToLower(v)
		if slices.Contains(di.billingCodes, v) {
			return true, true
		}
		if slices.Contains(di.limitCodes, v) {
			return false, true
		}
	}
	if e.Status != "" && slices.Contains(di.limitStatuses, e.Status) {
		return false, true
	}
	return false, false
}

// version splits a path as the API spells it ("/v1/chat/completions")
// into its version segment and the rest, which is matched against
// endpoints; ok is false for a version the API does not serve.
func (di *dialectInfo) version(path string) (version, rest string, ok bool) {
	first, rest, _ := cutSegment(path)
	switch {
	case slices.Contains(di.versions, first):
		return first, rest, true
	case di.versionOptional:
		return di.versions[0], path, true
	case path == "/":
		return di.versions[0], "", true
	}
	return "", "", false
}

// upstreamPath is a route's path (as the API spells it) under the
// provider's base URL.
func (di *dialectInfo) upstreamPath(path string) string {
	if first, rest, _ := cutSegment(path); di.baseHasVersion && first == di.versions[0] {
		return rest
	}
	return path
}

// compatPath is the path under p's base URL of its endpoint for this
// dialect when p's own dialect is another ("" when it has none).
func (di *dialectInfo) compatPath(p Provider) string {
	if di.compat {
		return p.OpenAIPath
	}
	return ""
}

// setKey sets on h the one header the provider reads key from. bearer
// says the caller sent the key in Authorization.
func (di *dialectInfo) setKey(h http.Header, key string, bearer bool) {
	if key == "" {
		return
	}
	// As h.Set does, without canonicalizing keys that are canonical
	// (TestHeaderListsCanonical).
	if di.keyHeader == "" || bearer && hasPrefixIn(key, di.bearerKeys) {
		h["Authorization"] = []string{"Bearer " + key}
		return
	}
	h[di.keyHeader] = []string{key}
}

func hasPrefixIn(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// fromSDK reports whether a request's headers are those of this
// dialect's SDKs.
func (di *dialectInfo) fromSDK(h http.Header) bool {
	for _, k := range di.sdkHeaders {
		if h.Get(k) != "" {
			return true
		}
	}
	return false
}

// eventStream reports whether the answer to a request on rt will be an
// event stream to meter event by event: the route answers in events
// (endpoint.events), the request (its body, or its path) asks for a
// stream, and the query says so where the format wants it to
// (sseParam).
func (di *dialectInfo) eventStream(rt route, info requestInfo, q url.Values) bool {
	return rt.events && (info.Stream || rt.Stream) && (di.sseParam[0] == "" || q.Get(di.sseParam[0]) == di.sseParam[1])
}

// shown counts the bytes of generated output a stream event's data
// carries, for slicing a hold as a stream goes.
func (di *dialectInfo) shown(data []byte) int64 { return di.output.bytes(data) }

// eventMeter reads one stream's events for what a streamMeter keeps. It
// is called once per event: it must not allocate for an event that
// carries nothing to meter.
type eventMeter interface {
	// event notes ev in m and returns the bytes to relay: ev.Raw, an
	// edited copy, or nil to drop it.
	event(m *streamMeter, ev streamEvent) []byte
}

// builtinDialects are the formats Sluice speaks, in the order they claim a
// path that names no provider: OpenAI's, which takes every other /v1
// path, last.
var builtinDialects = []dialect{anthropicDialect{}, geminiDialect{}, openAIDialect{}}

// dialectNamed returns the dialect of ds named name, or nil.
func dialectNamed(ds []dialect, name string) dialect {
	for _, d := range ds {
		if d.info().name == name {
			return d
		}
	}
	return nil
}

// dialects are the formats p speaks; a nil p speaks builtinDialects.
func (p *Proxy) dialectList() []dialect {
	if p != nil && p.dialects != nil {
		return p.dialects
	}
	return builtinDialects
}

// routeName names a metered route: "openai.chat", "anthropic.messages".
// It is what a record's Route says.
type routeName string

// A promptDialect can carry a stored prompt (sluice prompt run): build the
// provider's own request for it and read the text of the answer.
type promptDialect interface {
	// promptRequest is the request for a prompt to model at prov: its
	// path (without the /{provider} prefix), query and body.
	promptRequest(prov Provider, model string, pr Prompt, system, user string, stream bool) (path, query string, h http.Header, body map[string]any)
	// outputText reads the model's text from a whole answer.
	outputText(body []byte) (string, error)
	// deltaText reads the text a stream event adds.
	deltaText(ev streamEvent) string
}
