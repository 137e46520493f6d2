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
	Path     string // the path as the provider's own API spells it ("/v1/chat/completions")
	Model    string // Gemini: the model named in the path
	Stream   bool   // Gemini: streamGenerateContent
	Free     bool   // the provider does not charge for it (token counting, moderation)
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

// parseRoute classifies method and path. providers knows the names that
// may stand as a /{provider}/ prefix.
func parseRoute(method, path string, providers map[string]Provider) (route, *routeError) {
	dialect := guessDialect(path)
	if first, rest, ok := cutSegment(path); ok && first != "v1" && first != "v1beta" && first != "v1alpha" {
		p, known := providers[first]
		if !known {
			return route{}, &routeError{dialect, http.StatusNotFound, "unknown provider " + strconvQuote(first) + " in path " + strconvQuote(path) + "; known providers: " + strings.Join(ProviderNames(providers), ", ")}
		}
		r, rerr := parseDialectRoute(p.Dialect, method, rest)
		if rerr != nil {
			return route{}, rerr
		}
		r.Provider, r.Explicit = p.Name, true
		return r, nil
	}
	switch {
	case path == "/v1/messages" || strings.HasPrefix(path, "/v1/messages/"):
		r, rerr := parseDialectRoute(DialectAnthropic, method, path)
		r.Provider = "anthropic"
		return r, rerr
	case strings.HasPrefix(path, "/v1beta/"), strings.HasPrefix(path, "/v1alpha/"),
		strings.HasPrefix(path, "/v1/models/") && strings.Contains(path, ":"):
		r, rerr := parseDialectRoute(DialectGemini, method, path)
		r.Provider = "gemini"
		return r, rerr
	case strings.HasPrefix(path, "/v1/"):
		r, rerr := parseDialectRoute(DialectOpenAI, method, path)
		if rerr == nil && r.Name == "" {
			// Unmetered OpenAI routes (listing models, files) have no
			// model to route by: they are OpenAI's own.
			r.Provider = "openai"
		}
		return r, rerr
	}
	return route{}, &routeError{dialect, http.StatusNotFound, "Sluice has no route " + method + " " + strconvQuote(path) + "; OpenAI SDKs use base URL /v1, Anthropic SDKs the bare address, Gemini SDKs the bare address too"}
}

// parseDialectRoute classifies a path as spelled by the dialect's own API.
func parseDialectRoute(dialect, method, path string) (route, *routeError) {
	notFound := func() (route, *routeError) {
		return route{}, &routeError{dialect, http.StatusNotFound, "Sluice has no route " + method + " " + strconvQuote(path) + " for the " + dialect + " API"}
	}
	r := route{Dialect: dialect, Path: path}
	switch dialect {
	case DialectOpenAI:
		if !strings.HasPrefix(path, "/v1/") {
			// /mistral/chat/completions is as good as /mistral/v1/chat/completions.
			path = "/v1" + path
			r.Path = path
		}
		p := strings.TrimPrefix(path, "/v1")
		switch {
		case method == http.MethodPost && p == "/chat/completions":
			r.Name = "openai.chat"
		case method == http.MethodPost && p == "/responses":
			r.Name = "openai.responses"
		case method == http.MethodPost && p == "/completions":
			r.Name = "openai.completions"
		case method == http.MethodPost && p == "/embeddings":
			r.Name = "openai.embeddings"
		case method == http.MethodPost && (p == "/moderations" || p == "/responses/input_tokens"):
			r.Free = true // relayed, not metered
		case method == http.MethodGet && (p == "/models" || strings.HasPrefix(p, "/models/")),
			strings.HasPrefix(p, "/responses/"), strings.HasPrefix(p, "/chat/completions/"),
			p == "/files" || strings.HasPrefix(p, "/files/"):
			// Reading back, listing and deleting: no tokens are spent.
		default:
			return notFound()
		}
	case DialectAnthropic:
		switch {
		case method == http.MethodPost && path == "/v1/messages":
			r.Name = "anthropic.messages"
		case method == http.MethodPost && path == "/v1/messages/count_tokens":
			r.Name, r.Free = "anthropic.count_tokens", true
		case method == http.MethodGet && (path == "/v1/models" || strings.HasPrefix(path, "/v1/models/")):
		default:
			return notFound()
		}
	case DialectGemini:
		ver, rest, ok := cutSegment(path)
		if !ok || (ver != "v1" && ver != "v1beta" && ver != "v1alpha") || !strings.HasPrefix(rest, "/models") {
			return notFound()
		}
		name := strings.TrimPrefix(rest, "/models")
		if method == http.MethodGet && (name == "" || (strings.HasPrefix(name, "/") && !strings.Contains(name, ":"))) {
			return r, nil // listing or describing models
		}
		model, verb, ok := strings.Cut(strings.TrimPrefix(name, "/"), ":")
		if method != http.MethodPost || !ok || model == "" {
			return notFound()
		}
		if m, err := url.PathUnescape(model); err == nil {
			model = m
		}
		r.Model = model
		switch verb {
		case "generateContent":
			r.Name = "gemini.generateContent"
		case "streamGenerateContent":
			r.Name, r.Stream = "gemini.streamGenerateContent", true
		case "countTokens":
			r.Name, r.Free = "gemini.countTokens", true
		case "embedContent":
			r.Name = "gemini.embedContent"
		case "batchEmbedContents":
			r.Name = "gemini.batchEmbedContents"
		default:
			return notFound()
		}
	}
	return r, nil
}

// guessDialect picks the dialect to explain a failure in, from the path
// alone, before anything else is known.
func guessDialect(path string) string {
	first, rest, _ := cutSegment(path)
	switch first {
	case "anthropic":
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
	}
	return DialectOpenAI
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

// routeModel picks the provider for a plain /v1 OpenAI-style request by
// its model: "provider/model" names it outright; otherwise a known prefix
// ("claude-", "mistral-", "grok-"...) does; otherwise the price table, when
// exactly one provider lists the model; otherwise OpenAI. It returns the
// model as the provider spells it.
func routeModel(model string, providers map[string]Provider, prices *Prices) (provider, upstreamModel string) {
	if name, rest, ok := strings.Cut(model, "/"); ok {
		if p, known := providers[strings.ToLower(name)]; known && rest != "" {
			return p.Name, rest
		}
	}
	lower := strings.ToLower(model)
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
			if row, ok := prices.Lookup(p.Name, model); ok && strings.EqualFold(row.Model, model) {
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
