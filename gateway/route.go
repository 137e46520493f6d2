package gateway

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// route is what a request's method and path say about it.
type route struct {
	dialect  dialect   // the caller's dialect: errors are shaped in it
	Name     routeName // "openai.chat", ...; "" for a request relayed unmetered
	Provider string    // "" on routes whose provider the model chooses
	// prefixed: the path named its provider (/{provider}/...), which then
	// serves the request whatever its model; an alias does not apply.
	prefixed bool
	// Path is the path as the provider's own API spells it
	// ("/v1/chat/completions"), rebuilt from the allow-list entry and the
	// checked segments the caller sent: never the caller's raw path.
	Path   string
	Model  string // the model named in the path (Gemini's), if any
	Stream bool   // the path itself asks for a stream
	Free   bool   // the provider does not charge for it (token counting, moderation)
	// embeds: the route produces no output tokens (embeddings).
	embeds bool
	// events: the route answers a request that asks for a stream in
	// server-sent events (see dialectInfo.eventStream).
	events bool
	// maxField names the request's output bound, for advice in a refusal.
	maxField string
	// upload: the body may be a multipart form (a file upload).
	upload bool
	// needsResponses: see endpoint; servedBy reads it.
	needsResponses bool
	// Op names a read-back that touches deferred work (a background
	// answer), and ID is the id in its path; answers is the metered
	// route whose answer it reads back.
	Op      readOp
	ID      string
	answers routeName
}

// readOp is what a read-back does to a background answer; its dialect's
// endpoints name the ops, and its backgroundDialect reads them.
type readOp string

// metered reports whether the request has a cost to estimate and record.
func (r route) metered() bool { return r.Name != "" }

// servedBy reports whether prov, a provider of r's own dialect, serves r
// as it is, rather than translated: an endpoint not every provider of a
// format offers needs the provider's column.
func (r route) servedBy(prov Provider) bool { return !r.needsResponses || prov.Responses }

// endpoint is one entry of a dialect's allow-list: a method and a path of
// fixed segments and placeholders. "{id}" stands for one id segment (see
// validID); "{model}" for a model segment; "{model}:{verb}" for a model
// and method, as Gemini spells them.
type endpoint struct {
	method  string
	pattern string
	name    routeName // metered route name; "" for read-back and listing
	free    bool
	streams bool   // the path asks for a stream
	events  bool   // answers a request that asks for a stream in server-sent events
	embeds  bool   // no output tokens
	upload  bool   // the body may be a multipart form
	max     string // the body's output bound, as the API names it; "" for none
	// needsResponses: only a provider with Provider.Responses serves the
	// endpoint as it is; others get the request translated.
	needsResponses bool
	op             readOp
	answers        routeName // of a read-back: the route whose answer it reads
}

// checkRawPath refuses a path that a proxy or a provider could read
// otherwise than Sluice does: encoded separators, dots, backslashes or
// percent signs (%2F, %2E, %5C, %25), NUL, a backslash, or a "." or ".."
// segment. raw is the path as it came on the wire, before decoding.
func checkRawPath(raw string) string {
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
	for seg := range strings.SplitSeq(raw[1:], "/") {
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

// parseRoute classifies method and the decoded path among the
// dialects ds: a path one of them claims as its own API spells it
// (/v1/chat/completions, /v1beta/models/...), or one under a
// /{provider}/ prefix in the provider's dialect. h, the request's
// headers, tells whose a path shared by several APIs is. providers knows
// the names that may stand as a /{provider}/ prefix. The route is the
// dialect to answer in even with a failure.
func parseRoute(method, path string, h http.Header, providers map[string]Provider, ds []dialect) (route, *failure) {
	for _, d := range ds {
		prov, byModel, ok := d.claim(method, path, h)
		if !ok {
			continue
		}
		r, f := parseDialectRoute(d, method, path)
		if f == nil {
			r.Provider = prov
			if byModel && r.metered() {
				r.Provider = ""
			}
		}
		return r, f
	}
	if first, rest, ok := cutSegment(path); ok {
		if p, known := providers[first]; known {
			d := dialectNamed(ds, p.Dialect)
			if d == nil {
				return route{dialect: requestDialect(path, h, providers, ds)}, routeFailure("provider " + p.Name + " speaks " + strconvQuote(p.Dialect) + ", which Sluice does not")
			}
			r, f := parseDialectRoute(d, method, rest)
			r.Provider, r.prefixed = p.Name, true
			return r, f
		}
	}
	d := requestDialect(path, h, providers, ds)
	if first, _, ok := cutSegment(path); ok && !isVersion(ds, first) {
		return route{dialect: d}, routeFailure("unknown provider " + strconvQuote(first) + " in path " + strconvQuote(path) + "; known providers: " + strings.Join(ProviderNames(providers), ", "))
	}
	return route{dialect: d}, routeFailure("Sluice has no route " + method + " " + strconvQuote(path) + "; " + d.info().baseURLHint)
}

// isVersion reports whether seg is a version segment of one of the
// dialects ds ("v1", "v1beta"), rather than a provider's name.
func isVersion(ds []dialect, seg string) bool {
	for _, d := range ds {
		if slices.Contains(d.info().versions, seg) {
			return true
		}
	}
	return false
}

// routeFailure is a request Sluice cannot route: a 404.
func routeFailure(msg string) *failure {
	f := fail(http.StatusNotFound, kindNotFound, msg).blocked(ReasonRoute)
	f.unread = true
	return f
}

// parseDialectRoute classifies a path as spelled by d's own API against
// its allow-list.
func parseDialectRoute(d dialect, method, path string) (route, *failure) {
	notFound := func() (route, *failure) {
		return route{dialect: d}, routeFailure("Sluice has no route " + method + " " + strconvQuote(path) + " for the " + d.info().name + " API (it forwards only the endpoints listed in its README, so that every billable call is metered)")
	}
	version, rest, ok := d.info().version(path)
	if !ok || !strings.HasPrefix(rest, "/") {
		return notFound()
	}
	var buf [8]string
	segs := buf[:0]
	for seg := range strings.SplitSeq(strings.TrimPrefix(rest, "/"), "/") {
		segs = append(segs, seg)
	}
	for _, e := range d.info().endpoints {
		if e.method != method {
			continue
		}
		vals, ok := matchPattern(e.pattern, segs)
		if !ok {
			continue
		}
		r := route{dialect: d, Name: e.name, Free: e.free, Op: e.op, ID: vals.id, answers: e.answers,
			embeds: e.embeds, events: e.events, upload: e.upload, maxField: e.max, needsResponses: e.needsResponses}
		if n := 1 + len(version); rest == e.pattern && len(path) == n+len(rest) && path[0] == '/' && path[1:n] == version && path[n:] == rest {
			// A path with no placeholders, spelled as the route is:
			// the route's path is the caller's, already made.
			r.Path = path
		} else {
			r.Path = "/" + version + fillPattern(e.pattern, vals)
		}
		if vals.model != "" && e.name != "" {
			r.Model, r.Stream = vals.model, e.streams
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
	ps := strings.TrimPrefix(pattern, "/")
	if strings.Count(ps, "/")+1 != len(segs) {
		return v, false
	}
	i := 0
	for p := range strings.SplitSeq(ps, "/") {
		s := segs[i]
		i++
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
// route is known: from the path where it says (a provider's name, or a
// path only one API has), else from the headers, else the last of ds
// (OpenAI's).
func requestDialect(path string, h http.Header, providers map[string]Provider, ds []dialect) dialect {
	if first, _, ok := cutSegment(path); ok {
		if p, known := providers[first]; known {
			if d := dialectNamed(ds, p.Dialect); d != nil {
				return d
			}
		}
	}
	for _, d := range ds {
		if d.owns(path) {
			return d
		}
	}
	if h != nil {
		for _, d := range ds {
			if d.info().fromSDK(h) {
				return d
			}
		}
	}
	return ds[len(ds)-1]
}

// cutSegment splits "/a/b/c" into "a" and "/b/c", without copying.
func cutSegment(path string) (first, rest string, ok bool) {
	if !strings.HasPrefix(path, "/") || len(path) < 2 {
		return "", "", false
	}
	i := strings.IndexByte(path[1:], '/')
	if i < 0 {
		return path[1:], "", true
	}
	return path[1 : 1+i], path[1+i:], true
}

// isWebSocket reports whether r asks to upgrade to a WebSocket.
func isWebSocket(r *http.Request) bool {
	for _, v := range r.Header["Upgrade"] { // Values, without canonicalizing the key
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
func upstreamTarget(p Provider, d dialect, compat bool, path string, q url.Values) (*url.URL, error) {
	base, err := url.Parse(p.BaseURL)
	if err != nil {
		return nil, err
	}
	u := new(url.URL)
	setTarget(u, base, &p, d, compat, path, q)
	return u, nil
}

// setTarget sets u to upstreamTarget's URL, with p's base URL parsed
// already, as base (which is not changed).
func setTarget(u, base *url.URL, p *Provider, d dialect, compat bool, path string, q url.Values) {
	prefix := strings.TrimRight(base.Path, "/")
	if compat {
		prefix += d.info().compatPath(*p)
	}
	path = d.info().upstreamPath(path)
	*u = *base
	u.Path = prefix + path
	u.RawPath = ""
	u.RawQuery = q.Encode()
	u.Fragment, u.RawFragment = "", ""
	u.User = nil
}

// routeModel picks the provider for a request on a route of dialect d
// whose model chooses it (a plain /v1 OpenAI-style request): the one
// modelProvider names among the providers d reaches, else d's own
// (dialectInfo.provider). It returns the model as the provider spells
// it. ix is providers' prefixIndex, or nil to make it.
func routeModel(model string, d dialect, providers map[string]Provider, ix prefixIndex, prices *Prices) (provider, upstreamModel string) {
	if prov, m, ok := modelProvider(model, d, providers, ix, prices); ok {
		return prov, m
	}
	return d.info().provider, model
}

// modelProvider names the provider a model belongs to: "provider/model"
// names it outright; otherwise the longest model prefix a provider claims
// ("claude-", "mistral-", "grok-"); otherwise the price table, when
// exactly one provider that sells under its own name (not a reseller, not
// keyless) lists the model. It returns the model as the provider spells
// it; ok is false when nothing says.
//
// d, when not nil, filters the providers: by prefix, those d's requests
// reach (its own, and those with an endpoint in d's format, compatPath);
// by the price table, d's own. ix is providers' prefixIndex, or nil to
// make it.
func modelProvider(model string, d dialect, providers map[string]Provider, ix prefixIndex, prices *Prices) (provider, upstreamModel string, ok bool) {
	if name, rest, found := strings.Cut(model, "/"); found {
		if p, known := providers[strings.ToLower(strings.TrimSpace(name))]; known && rest != "" {
			return p.Name, rest, true
		}
	}
	if ix == nil {
		ix = newPrefixIndex(providers)
	}
	if best := ix.provider(strings.ToLower(strings.TrimSpace(model)), d); best != "" {
		return best, model, true
	}
	if prices == nil {
		return "", "", false
	}
	found := ""
	for _, p := range providers {
		// A reseller lists every vendor's models, and a local provider
		// prices every model at nothing: neither tells.
		if d != nil && p.Dialect != d.info().name || p.Resells != nil || p.Keyless {
			continue
		}
		if row, ok := prices.Lookup(p.Name, model); ok && strings.EqualFold(row.Model, strings.TrimSpace(model)) {
			if found != "" {
				return "", "", false
			}
			found = p.Name
		}
	}
	return found, model, found != ""
}

// prefixIndex is the model prefixes of a provider table (Provider.
// Prefixes), the longest first: modelProvider reads the provider of a
// model by its prefix in it, without walking the table (a map of large
// values) on every request. It is never changed once made, so it is safe
// for concurrent use.
type prefixIndex []providerPrefix

// providerPrefix is one provider's model prefix, with what tells which
// formats' requests reach the provider.
type providerPrefix struct {
	prefix, provider string
	dialect          string // Provider.Dialect
	openAIPath       bool   // Provider.OpenAIPath is set
}

// newPrefixIndex makes the prefixIndex of providers. Of prefixes of the
// same length, the provider first by name comes first.
func newPrefixIndex(providers map[string]Provider) prefixIndex {
	ix := prefixIndex{}
	for _, p := range providers {
		for _, pre := range p.Prefixes {
			ix = append(ix, providerPrefix{prefix: pre, provider: p.Name, dialect: p.Dialect, openAIPath: p.OpenAIPath != ""})
		}
	}
	slices.SortFunc(ix, func(a, b providerPrefix) int {
		if a, b := len(a.prefix), len(b.prefix); a != b {
			return b - a
		}
		return strings.Compare(a.provider, b.provider)
	})
	return ix
}

// provider is the provider with the longest prefix of the model lower
// (in lower case) among those d's requests reach (all, when d is nil): its
// own, and those with an endpoint in d's format (compatPath); "" when no
// prefix matches.
func (ix prefixIndex) provider(lower string, d dialect) string {
	var di *dialectInfo
	if d != nil {
		di = d.info()
	}
	for i := range ix {
		e := &ix[i]
		if len(e.prefix) == 0 || !strings.HasPrefix(lower, e.prefix) {
			continue
		}
		if di != nil && e.dialect != di.name && !(di.compat && e.openAIPath) {
			continue
		}
		return e.provider
	}
	return ""
}

func strconvQuote(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return "\"" + strings.ReplaceAll(s, "\"", "\\\"") + "\""
}
