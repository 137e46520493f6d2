package gateway

import (
	"net/http"
	"net/url"
	"strings"
)

// route is what a request's method and path say about it.
type route struct {
	Dialect  string // the caller's dialect: errors are shaped in it
	Name     string // "openai.chat", ...; "" for a request relayed unmetered
	Provider string // "" on plain /v1 OpenAI routes: chosen by model
	Explicit bool   // the provider was named by a /{provider}/ prefix
	// Path is the path as the provider's own API spells it
	// ("/v1/chat/completions"), rebuilt from the allow-list entry and the
	// checked segments the caller sent: never the caller's raw path.
	Path   string
	Model  string // Gemini: the model named in the path
	Stream bool   // Gemini: streamGenerateContent
	Free   bool   // the provider does not charge for it (token counting, moderation)
	// Op names a read-back that touches deferred work: "responses.get",
	// "responses.cancel", "responses.delete"; ID is the id in its path.
	Op string
	ID string
}

// metered reports whether the request has a cost to estimate and record.
func (r route) metered() bool { return r.Name != "" }

// routeError is a request Sluice cannot route, in the dialect that
// should explain it.
type routeError struct {
	dialect string
	status  int
	msg     string
}

// endpoint is one entry of a dialect's allow-list: a method and a path of
// fixed segments and placeholders. "{id}" stands for one id segment (see
// validID); "{model}:{verb}" for a Gemini model and method.
type endpoint struct {
	method  string
	pattern string
	name    string // metered route name; "" for read-back and listing
	free    bool
	op      string
}

// openAIEndpoints are the OpenAI API's paths, under /v1, that Sluice
// forwards. Everything else under an OpenAI-style prefix is a 404 that
// never reaches a provider.
var openAIEndpoints = []endpoint{
	{method: "POST", pattern: "/chat/completions", name: "openai.chat"},
	{method: "POST", pattern: "/responses", name: "openai.responses"},
	{method: "POST", pattern: "/responses/compact", name: "openai.responses.compact"},
	{method: "POST", pattern: "/completions", name: "openai.completions"},
	{method: "POST", pattern: "/embeddings", name: "openai.embeddings"},
	// Free: relayed, not metered.
	{method: "POST", pattern: "/moderations", free: true},
	{method: "POST", pattern: "/responses/input_tokens", free: true},
	// Reading back, listing and deleting: no tokens are spent.
	{method: "GET", pattern: "/models"},
	{method: "GET", pattern: "/models/{id}"},
	{method: "GET", pattern: "/responses/{id}", op: "responses.get"},
	{method: "DELETE", pattern: "/responses/{id}", op: "responses.delete"},
	{method: "POST", pattern: "/responses/{id}/cancel", op: "responses.cancel"},
	{method: "GET", pattern: "/responses/{id}/input_items"},
	{method: "GET", pattern: "/chat/completions"},
	{method: "GET", pattern: "/chat/completions/{id}"},
	{method: "POST", pattern: "/chat/completions/{id}"}, // update metadata
	{method: "DELETE", pattern: "/chat/completions/{id}"},
	{method: "GET", pattern: "/chat/completions/{id}/messages"},
	{method: "GET", pattern: "/files"},
	{method: "POST", pattern: "/files"},
	{method: "GET", pattern: "/files/{id}"},
	{method: "DELETE", pattern: "/files/{id}"},
	{method: "GET", pattern: "/files/{id}/content"},
}

// anthropicEndpoints are the Anthropic API's paths, under /v1.
var anthropicEndpoints = []endpoint{
	{method: "POST", pattern: "/messages", name: "anthropic.messages"},
	{method: "POST", pattern: "/messages/count_tokens", name: "anthropic.count_tokens", free: true},
	{method: "GET", pattern: "/models"},
	{method: "GET", pattern: "/models/{id}"},
}

// geminiEndpoints are the Gemini API's paths, under /v1beta (or /v1,
// /v1alpha).
var geminiEndpoints = []endpoint{
	{method: "POST", pattern: "/models/{model}:generateContent", name: "gemini.generateContent"},
	{method: "POST", pattern: "/models/{model}:streamGenerateContent", name: "gemini.streamGenerateContent"},
	{method: "POST", pattern: "/models/{model}:embedContent", name: "gemini.embedContent"},
	{method: "POST", pattern: "/models/{model}:batchEmbedContents", name: "gemini.batchEmbedContents"},
	{method: "POST", pattern: "/models/{model}:countTokens", name: "gemini.countTokens", free: true},
	{method: "GET", pattern: "/models"},
	{method: "GET", pattern: "/models/{model}"},
}

// Endpoint is one (method, path) Sluice forwards, for the documentation
// and tests: Path is as the provider spells it, placeholders in braces.
type Endpoint struct {
	Dialect string
	Method  string
	Path    string
	Metered bool // held, metered and charged
	Free    bool // relayed and recorded at $0: the provider charges nothing
}

// Endpoints lists every (method, path) Sluice forwards, in each dialect's
// own spelling.
func Endpoints() []Endpoint {
	var out []Endpoint
	add := func(dialect, prefix string, es []endpoint) {
		for _, e := range es {
			out = append(out, Endpoint{Dialect: dialect, Method: e.method, Path: prefix + e.pattern, Metered: e.name != "" && !e.free, Free: e.free})
		}
	}
	add(DialectOpenAI, "/v1", openAIEndpoints)
	add(DialectAnthropic, "/v1", anthropicEndpoints)
	add(DialectGemini, "/v1beta", geminiEndpoints)
	return out
}

// CheckRawPath refuses a path that a proxy or a provider could read
// otherwise than Sluice does: encoded separators, dots, backslashes or
// percent signs (%2F, %2E, %5C, %25), NUL, a backslash, or a "." or ".."
// segment. raw is the path as it came on the wire, before decoding.
func CheckRawPath(raw string) string {
	if !strings.HasPrefix(raw, "/") {
		return "the path must start with /"
	}
	lower := strings.ToLower(raw)
	for _, bad := range []string{"%2f", "%2e", "%5c", "%25", "%00"} {
		if strings.Contains(lower, bad) {
			return "the path holds an encoded separator, dot or percent sign (" + strings.ToUpper(bad) + "); send it plainly"
		}
	}
	if strings.ContainsAny(raw, "\\\x00") {
		return "the path holds a backslash or NUL"
	}
	for _, seg := range strings.Split(raw[1:], "/") {
		if seg == "." || seg == ".." {
			return "the path holds a dot segment (. or ..)"
		}
	}
	if strings.Contains(raw, "//") {
		return "the path holds an empty segment (//): check that the base URL set in your SDK or tool does not end in a slash"
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x21 || raw[i] >= 0x7f {
			return "the path holds a control, space or non-ASCII byte"
		}
	}
	return ""
}

// parseRoute classifies method and the decoded path. h, the request's
// headers, tells which dialect to answer an unknown path in, and which
// provider a bare GET /v1/models is for. providers knows the names that
// may stand as a /{provider}/ prefix.
func parseRoute(method, path string, h http.Header, providers map[string]Provider) (route, *routeError) {
	dialect := requestDialect(path, h)
	if first, rest, ok := cutSegment(path); ok && !reservedSegment(first) {
		p, known := providers[first]
		if !known {
			return route{}, &routeError{dialect, http.StatusNotFound, "unknown provider " + strconvQuote(first) + " in path " + strconvQuote(path) + "; known providers: " + strings.Join(ProviderNames(providers), ", ")}
		}
		if p.Dialect == DialectAnthropic && !strings.HasPrefix(rest, "/v1/") {
			rest = "/v1" + rest // /anthropic/messages as /anthropic/v1/messages
		}
		r, rerr := parseDialectRoute(p.Dialect, method, rest)
		if rerr != nil {
			return route{}, rerr
		}
		r.Provider, r.Explicit = p.Name, true
		return r, nil
	}
	first, rest, _ := cutSegment(path)
	switch {
	case first == "messages":
		// Clients whose Anthropic base URL ends in /v1 by default
		// (the AI SDK's) given the bare address.
		r, rerr := parseDialectRoute(DialectAnthropic, method, "/v1"+path)
		r.Provider = "anthropic"
		return r, rerr
	case first == "v1" && (rest == "/messages" || strings.HasPrefix(rest, "/messages/")):
		r, rerr := parseDialectRoute(DialectAnthropic, method, path)
		r.Provider = "anthropic"
		return r, rerr
	case first == "v1beta", first == "v1alpha",
		first == "v1" && strings.HasPrefix(rest, "/models/") && strings.Contains(rest, ":"):
		r, rerr := parseDialectRoute(DialectGemini, method, path)
		r.Provider = "gemini"
		return r, rerr
	case first == "v1" && method == http.MethodGet && (rest == "/models" || strings.HasPrefix(rest, "/models/")) && headerDialect(h) != "":
		// Listing models is the same path in all three APIs: the
		// caller's headers say whose.
		d := headerDialect(h)
		r, rerr := parseDialectRoute(d, method, path)
		r.Provider = map[string]string{DialectAnthropic: "anthropic", DialectGemini: "gemini"}[d]
		return r, rerr
	case first == "v1" && rest != "":
		r, rerr := parseDialectRoute(DialectOpenAI, method, path)
		if rerr == nil && r.Name == "" {
			// Unmetered OpenAI routes (listing models, files) have no
			// model to route by: they are OpenAI's own.
			r.Provider = "openai"
		}
		return r, rerr
	}
	return route{}, &routeError{dialect, http.StatusNotFound, noRouteHint(dialect, method, path)}
}

// noRouteHint explains a path that is no route at all, with the base URL
// the caller's SDK wants.
func noRouteHint(dialect, method, path string) string {
	msg := "Sluice has no route " + method + " " + strconvQuote(path) + "; "
	switch dialect {
	case DialectAnthropic:
		return msg + "Anthropic SDKs and Claude Code take the bare address as base URL (ANTHROPIC_BASE_URL=http://127.0.0.1:4020, no /v1)"
	case DialectGemini:
		return msg + "Gemini SDKs take the bare address as base URL (GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:4020)"
	}
	return msg + "OpenAI SDKs take base URL /v1 (OPENAI_BASE_URL=http://127.0.0.1:4020/v1)"
}

// reservedSegment reports whether a first path segment is a route of its
// own rather than a provider name.
func reservedSegment(s string) bool {
	switch s {
	case "v1", "v1beta", "v1alpha", "messages":
		return true
	}
	return false
}

// parseDialectRoute classifies a path as spelled by the dialect's own API
// against its allow-list.
func parseDialectRoute(dialect, method, path string) (route, *routeError) {
	notFound := func() (route, *routeError) {
		return route{}, &routeError{dialect, http.StatusNotFound, "Sluice has no route " + method + " " + strconvQuote(path) + " for the " + dialect + " API (it forwards only the endpoints listed in its README, so that every billable call is metered)"}
	}
	var (
		version string
		rest    string
		table   []endpoint
	)
	switch dialect {
	case DialectOpenAI:
		// /mistral/chat/completions is as good as /mistral/v1/chat/completions.
		version, rest = "v1", strings.TrimPrefix(path, "/v1")
		if !strings.HasPrefix(rest, "/") {
			return notFound()
		}
		table = openAIEndpoints
	case DialectAnthropic:
		var ok bool
		if rest, ok = strings.CutPrefix(path, "/v1"); !ok || !strings.HasPrefix(rest, "/") {
			return notFound()
		}
		version, table = "v1", anthropicEndpoints
	case DialectGemini:
		var ok bool
		version, rest, ok = cutSegment(path)
		if !ok || (version != "v1" && version != "v1beta" && version != "v1alpha") {
			return notFound()
		}
		table = geminiEndpoints
	default:
		return notFound()
	}
	segs := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	for _, e := range table {
		if e.method != method {
			continue
		}
		vals, ok := matchPattern(e.pattern, segs)
		if !ok {
			continue
		}
		r := route{Dialect: dialect, Name: e.name, Free: e.free, Op: e.op, ID: vals.id}
		r.Path = "/" + version + fillPattern(e.pattern, vals)
		if dialect == DialectGemini && vals.model != "" {
			r.Model = vals.model
			r.Stream = e.name == "gemini.streamGenerateContent"
		}
		return r, nil
	}
	return notFound()
}

// patternValues are what a path's placeholders held.
type patternValues struct {
	id, model string
}

// matchPattern matches path segments against a pattern of the
// allow-list.
func matchPattern(pattern string, segs []string) (patternValues, bool) {
	var v patternValues
	ps := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	if len(ps) != len(segs) {
		return v, false
	}
	for i, p := range ps {
		s := segs[i]
		switch {
		case p == "{id}":
			if !validID(s) {
				return v, false
			}
			v.id = s
		case p == "{model}":
			if !validModelSegment(s) {
				return v, false
			}
			v.model = s
		case strings.HasPrefix(p, "{model}:"):
			model, verb, ok := strings.Cut(s, ":")
			if !ok || verb != strings.TrimPrefix(p, "{model}:") || !validModelSegment(model) {
				return v, false
			}
			v.model = model
		default:
			if p != s {
				return v, false
			}
		}
	}
	return v, true
}

// fillPattern spells pattern with v's values.
func fillPattern(pattern string, v patternValues) string {
	s := strings.Replace(pattern, "{id}", v.id, 1)
	return strings.Replace(s, "{model}", v.model, 1)
}

// validID reports whether s may stand as an id segment: a response, file,
// completion or model id. Ids are letters, digits and - _ . : (fine-tuned
// model ids hold colons), never a dot segment.
func validID(s string) bool {
	if s == "" || len(s) > 256 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// validModelSegment reports whether s is a plain Gemini model name:
// letters, digits and - _ . only.
func validModelSegment(s string) bool {
	if s == "" || len(s) > 128 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// requestDialect picks the dialect to explain a failure in, before the
// route is known: from the path where it says, else from the headers.
func requestDialect(path string, h http.Header) string {
	if d := guessDialect(path); d != "" {
		return d
	}
	if d := headerDialect(h); d != "" {
		return d
	}
	return DialectOpenAI
}

// headerDialect is the dialect a request's headers suggest: Anthropic's
// SDKs send anthropic-version and x-api-key, Gemini's x-goog-api-key.
// It is "" when they suggest none.
func headerDialect(h http.Header) string {
	switch {
	case h == nil:
		return ""
	case h.Get("Anthropic-Version") != "" || h.Get("X-Api-Key") != "":
		return DialectAnthropic
	case h.Get("X-Goog-Api-Key") != "":
		return DialectGemini
	}
	return ""
}

// guessDialect picks the dialect a path names, or "" when it names none.
func guessDialect(path string) string {
	first, rest, _ := cutSegment(path)
	switch first {
	case "anthropic", "messages":
		return DialectAnthropic
	case "gemini", "v1beta", "v1alpha":
		return DialectGemini
	case "v1":
		if rest == "/messages" || strings.HasPrefix(rest, "/messages/") {
			return DialectAnthropic
		}
		if strings.HasPrefix(rest, "/models/") && strings.Contains(rest, ":") {
			return DialectGemini
		}
		if strings.HasPrefix(rest, "/chat/") || strings.HasPrefix(rest, "/responses") ||
			rest == "/completions" || rest == "/embeddings" {
			return DialectOpenAI
		}
	case "openai":
		return DialectOpenAI
	}
	return ""
}

// cutSegment splits "/a/b/c" into "a" and "/b/c".
func cutSegment(path string) (first, rest string, ok bool) {
	if !strings.HasPrefix(path, "/") || len(path) < 2 {
		return "", "", false
	}
	first, rest, found := strings.Cut(path[1:], "/")
	if found {
		rest = "/" + rest
	}
	return first, rest, true
}

// isWebSocket reports whether r asks to upgrade to a WebSocket.
func isWebSocket(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "websocket") {
				return true
			}
		}
	}
	return false
}

// upstreamTarget is the URL a request goes to: the provider's base,
// parsed, with the route's own path (never the caller's raw one) and the
// query Sluice keeps.
func upstreamTarget(p Provider, compat bool, path string, q url.Values) (*url.URL, error) {
	base, err := url.Parse(p.BaseURL)
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimRight(base.Path, "/")
	switch {
	case compat:
		prefix += p.OpenAIPath
		path = strings.TrimPrefix(path, "/v1")
	case p.Dialect == DialectOpenAI:
		// OpenAI-style bases end in /v1 or its equivalent.
		path = strings.TrimPrefix(path, "/v1")
	}
	u := *base
	u.Path = prefix + path
	u.RawPath = ""
	u.RawQuery = q.Encode()
	u.Fragment, u.RawFragment = "", ""
	u.User = nil
	return &u, nil
}

// routeModel picks the provider for a plain /v1 OpenAI-style request by
// its model: "provider/model" names it outright; otherwise a known prefix
// ("claude-", "mistral-", "grok-"...) does; otherwise the price table, when
// exactly one provider lists the model; otherwise OpenAI. It returns the
// model as the provider spells it.
func routeModel(model string, providers map[string]Provider, prices *Prices) (provider, upstreamModel string) {
	if name, rest, ok := strings.Cut(model, "/"); ok {
		if p, known := providers[strings.ToLower(strings.TrimSpace(name))]; known && rest != "" {
			return p.Name, rest
		}
	}
	lower := strings.ToLower(strings.TrimSpace(model))
	best, bestLen := "", 0
	for _, p := range providers {
		if p.Dialect != DialectOpenAI && p.OpenAIPath == "" {
			continue
		}
		for _, pre := range p.Prefixes {
			if strings.HasPrefix(lower, pre) && len(pre) > bestLen {
				best, bestLen = p.Name, len(pre)
			}
		}
	}
	if best != "" {
		return best, model
	}
	if prices != nil {
		found := ""
		for _, p := range providers {
			if p.Dialect != DialectOpenAI || p.Name == "openrouter" || p.Keyless {
				continue
			}
			if row, ok := prices.Lookup(p.Name, model); ok && strings.EqualFold(row.Model, strings.TrimSpace(model)) {
				if found != "" {
					found = ""
					break
				}
				found = p.Name
			}
		}
		if found != "" {
			return found, model
		}
	}
	return "openai", model
}

func strconvQuote(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return "\"" + strings.ReplaceAll(s, "\"", "\\\"") + "\""
}
