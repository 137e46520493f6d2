package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Provider is one upstream: where it lives and how it is spoken to.
type Provider struct {
	Name    string // "openai", "mistral", ...
	Dialect string // the name of its wire format: "openai", "anthropic" or "gemini" (see dialect.go)
	// BaseURL is the base the provider's own SDK takes:
	// https://api.openai.com/v1, https://api.anthropic.com,
	// https://generativelanguage.googleapis.com.
	BaseURL string
	// Keyless providers (a local Ollama) need no key; a request with no
	// credentials at all is still served.
	Keyless bool
	// OpenAIPath is, for a provider whose own dialect is not OpenAI's, the
	// path under BaseURL of its OpenAI-compatible endpoint ("/v1" for
	// Anthropic, "/v1beta/openai" for Gemini); "" when it has none.
	OpenAIPath string
	// Responses: the provider, one of OpenAI's dialect, serves OpenAI's
	// Responses API (/responses under BaseURL). A Responses request for
	// a model of one that does not is translated into Chat Completions,
	// which every OpenAI-style provider serves.
	Responses bool
	// MaxCompletionTokens: the provider, one of OpenAI's dialect, takes a
	// translated request's output limit as max_completion_tokens (OpenAI's
	// own API, whose reasoning models refuse max_tokens); false means
	// max_tokens, which the other OpenAI-style providers read.
	MaxCompletionTokens bool
	// Prefixes are model-name prefixes that identify the provider's models
	// on a plain /v1 route.
	Prefixes []string
	// KeyPrefixes are the prefixes the provider documents for its API
	// keys. A caller's own key is forwarded only to the provider whose
	// prefix it has; to a provider that has prefixes, only such a key.
	// Keys with these prefixes are redacted from what a Proxy serving the
	// provider records (see Redact).
	KeyPrefixes []string
	// EnvVars are the environment variables read for the provider's key
	// when no keyring can be used, in order; nil means NAME_API_KEY alone
	// (see KeyEnvVars).
	EnvVars []string
	// UnconfirmedHost, when not "", is BaseURL's host, where no key may go:
	// it is not the provider's official https address, and the user has
	// not confirmed it from the command line (see Confirm). The proxy and
	// CheckKey send no key there, the stored one nor a caller's own;
	// requests without a key still go.
	UnconfirmedHost string
	// BillingPage is where the account's credit or payment method is set
	// ("platform.openai.com → Settings → Billing"), for advice when the
	// provider says the account cannot pay; "" when none is known.
	BillingPage string
	// KeyPattern, when not nil, matches the provider's keys that have
	// none of its KeyPrefixes (OpenAI's older "sk-" keys, DeepSeek's): a
	// caller's key it matches is the provider's, and to a provider with
	// KeyPrefixes or a KeyPattern goes no key without that shape. The
	// patterns of the providers in one table match no key in common.
	// Keys it matches are redacted as KeyPrefixes' are.
	KeyPattern *regexp.Regexp
	// LooseKeyPattern, when not nil, matches the provider's keys of a
	// shape other servers' keys may share (Together's older 64 hex
	// digits, a shape self-hosted servers' tokens often have): such a key
	// goes to the provider, on a route that names it, but does not say
	// the provider issued it, so it may go to another provider too. Keys
	// it matches are redacted as KeyPrefixes' are.
	LooseKeyPattern *regexp.Regexp
	// ModelPath is the resource path the provider may wrap a model's
	// name in ("models/" at Gemini: "models/gemini-2.5-flash",
	// "publishers/google/models/..."): a model's id is what follows its
	// last occurrence (see modelID).
	ModelPath string
	// Resells, for a provider that resells other vendors' models under
	// ids "vendor/model" (OpenRouter), maps each such vendor prefix to
	// the provider that sells the vendor's models itself: a model with
	// no price row of the reseller's own is priced at that provider's
	// row (see Prices.Lookup). A reseller lists every vendor's models, so
	// its price rows never tell which provider serves a model.
	Resells map[string]string
	// Local: the provider runs on the user's own machine and charges
	// nothing, so a model of it without a price row is free.
	Local bool
	// PriceLists says where the price lists ImportPrices reads keep the
	// provider's prices; its zero value: they keep none.
	PriceLists PriceLists
}

// PriceLists says how the price lists ImportPrices reads name a provider
// and how their rows apply to it.
type PriceLists struct {
	// GenAI is the provider's id in genai-prices ("google" for Gemini);
	// "" means it has none.
	GenAI string
	// LiteLLM are the litellm_provider values of the provider's rows in
	// LiteLLM's list. A row whose value is the provider's own name wins
	// over one of another value for the same model.
	LiteLLM []string
	// LiteLLMModels maps a value of LiteLLM to the model-name prefix
	// (compared in lower case) its rows need to count for the provider:
	// Vertex AI's rows count for the Gemini API only for Gemini models,
	// at the same list prices.
	LiteLLMModels map[string]string
	// NotServed maps model-name prefixes (lower case) of models listed
	// under the provider's GenAI id that it does not serve to the reason
	// given for skipping them (Vertex AI's Claude models, listed under
	// Google's).
	NotServed map[string]string
	// ImageTokens: the provider reports the images a model generates as
	// output tokens in its usage, so an image model priced per image
	// token is metered like any other (Gemini's); other image APIs bill
	// per image, which usage cannot meter.
	ImageTokens bool
	// SearchPerPrompt: a model's web search (grounding) is billed once per
	// prompt that searched (Gemini 2.x), unless the list says per query
	// (Gemini 3).
	SearchPerPrompt bool
}

// DefaultProviders returns the providers Sluice knows, keyed by name.
func DefaultProviders() map[string]Provider {
	// Responses is set where the provider documents /responses: OpenAI,
	// Groq (beta), xAI, OpenRouter (beta) and Fireworks. DeepSeek and
	// Mistral have none; Together serves it for a few models only and
	// Ollama only since 0.13.3, so both get Chat Completions, which
	// every model of theirs answers.
	ps := []Provider{
		{Name: "openai", Dialect: dialectOpenAI, BaseURL: "https://api.openai.com/v1", BillingPage: "platform.openai.com → Settings → Billing", Responses: true, MaxCompletionTokens: true,
			KeyPrefixes: []string{"sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-"},
			// Older keys: "sk-" with the marker "T3BlbkFJ" (base64 of
			// "OpenAI") inside.
			KeyPattern: openAIKeyPattern,
			Prefixes:   []string{"gpt-", "chatgpt-", "o1", "o3", "o4", "text-embedding-", "davinci-", "babbage-", "omni-moderation", "codex-", "computer-use-"},
			PriceLists: PriceLists{GenAI: "openai", LiteLLM: []string{"openai", "text-completion-openai"}}},
		{Name: "anthropic", Dialect: dialectAnthropic, BaseURL: "https://api.anthropic.com", BillingPage: "console.anthropic.com → Settings → Billing", OpenAIPath: "/v1",
			KeyPrefixes: []string{"sk-ant-"},
			Prefixes:    []string{"claude-"},
			PriceLists:  PriceLists{GenAI: "anthropic", LiteLLM: []string{"anthropic"}}},
		{Name: "gemini", Dialect: dialectGemini, BaseURL: "https://generativelanguage.googleapis.com", BillingPage: "aistudio.google.com → Billing (link a billing account to the project)", OpenAIPath: "/v1beta/openai",
			ModelPath:   "models/",
			KeyPrefixes: []string{"AIza"},
			EnvVars:     []string{"GEMINI_API_KEY", "GOOGLE_API_KEY"},
			Prefixes:    []string{"gemini-", "models/gemini-", "gemma-", "text-embedding-004", "gemini-embedding-"},
			PriceLists: PriceLists{GenAI: "google", LiteLLM: []string{"gemini", "vertex_ai-language-models", "vertex_ai-embedding-models"},
				LiteLLMModels: map[string]string{"vertex_ai-language-models": "gemini-", "vertex_ai-embedding-models": "gemini-"},
				NotServed:     map[string]string{"claude": "Vertex AI model; the Gemini API does not serve it"}, ImageTokens: true, SearchPerPrompt: true}},
		{Name: "mistral", Dialect: dialectOpenAI, BaseURL: "https://api.mistral.ai/v1", BillingPage: "console.mistral.ai → Billing",
			Prefixes:   []string{"mistral-", "open-mistral", "open-mixtral", "codestral-", "ministral-", "pixtral-", "magistral-", "devstral-", "voxtral-"},
			PriceLists: PriceLists{GenAI: "mistral", LiteLLM: []string{"mistral", "codestral", "text-completion-codestral"}}},
		{Name: "groq", Dialect: dialectOpenAI, BaseURL: "https://api.groq.com/openai/v1", BillingPage: "console.groq.com → Settings → Billing", Responses: true, KeyPrefixes: []string{"gsk_"},
			PriceLists: PriceLists{GenAI: "groq", LiteLLM: []string{"groq"}}},
		{Name: "deepseek", Dialect: dialectOpenAI, BaseURL: "https://api.deepseek.com/v1", BillingPage: "platform.deepseek.com → Top up",
			KeyPattern: deepSeekKeyPattern, // "sk-" and 32 hex digits
			Prefixes:   []string{"deepseek-"},
			PriceLists: PriceLists{GenAI: "deepseek", LiteLLM: []string{"deepseek"}}},
		{Name: "xai", Dialect: dialectOpenAI, BaseURL: "https://api.x.ai/v1", BillingPage: "console.x.ai → Billing", Responses: true, KeyPrefixes: []string{"xai-"},
			Prefixes:   []string{"grok-"},
			PriceLists: PriceLists{GenAI: "x-ai", LiteLLM: []string{"xai"}}},
		{Name: "openrouter", Dialect: dialectOpenAI, BaseURL: "https://openrouter.ai/api/v1", BillingPage: "openrouter.ai → Credits", Responses: true, KeyPrefixes: []string{"sk-or-"},
			Resells:    map[string]string{"openai": "openai", "anthropic": "anthropic", "google": "gemini", "mistralai": "mistral", "deepseek": "deepseek", "x-ai": "xai"},
			PriceLists: PriceLists{GenAI: "openrouter", LiteLLM: []string{"openrouter"}}},
		{Name: "together", Dialect: dialectOpenAI, BaseURL: "https://api.together.xyz/v1", BillingPage: "api.together.ai → Settings → Billing",
			KeyPrefixes:     []string{"tgp_v1_"},
			LooseKeyPattern: togetherKeyPattern, // older keys: 64 hex digits
			PriceLists:      PriceLists{GenAI: "together", LiteLLM: []string{"together_ai"}}},
		{Name: "fireworks", Dialect: dialectOpenAI, BaseURL: "https://api.fireworks.ai/inference/v1", BillingPage: "fireworks.ai → Account → Billing", Responses: true, KeyPrefixes: []string{"fw_"},
			ModelPath:  "accounts/fireworks/models/",
			Prefixes:   []string{"accounts/fireworks/"},
			PriceLists: PriceLists{GenAI: "fireworks", LiteLLM: []string{"fireworks_ai", "fireworks_ai-embedding-models"}}},
		{Name: "ollama", Dialect: dialectOpenAI, BaseURL: "http://127.0.0.1:11434/v1", Keyless: true, Local: true},
	}
	m := make(map[string]Provider, len(ps))
	for _, p := range ps {
		m[p.Name] = p
	}
	return m
}

// Key shapes without a prefix of their own (Provider.KeyPattern).
var (
	openAIKeyPattern   = regexp.MustCompile(`(?s)^sk-.*T3BlbkFJ`)
	deepSeekKeyPattern = regexp.MustCompile(`^sk-[0-9a-fA-F]{32}$`)
	togetherKeyPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// modelPaths are the built-in providers whose model names may be wrapped
// in a resource path (Provider.ModelPath). modelID is given a provider's
// name alone (a budget's or a record's), so it reads the built-in table.
var modelPaths = func() []Provider {
	var ps []Provider
	for _, n := range ProviderNames(defaultProviders) {
		if p := defaultProviders[n]; p.ModelPath != "" {
			ps = append(ps, p)
		}
	}
	return ps
}()

// modelPath is the ModelPath of the built-in provider named prov, "" when
// it has none.
func modelPath(prov string) string {
	for i := range modelPaths {
		if modelPaths[i].Name == prov {
			return modelPaths[i].ModelPath
		}
	}
	return ""
}

// ProviderNames returns the names in ps, sorted.
func ProviderNames(ps map[string]Provider) []string {
	names := make([]string, 0, len(ps))
	for n := range ps {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// KeyEnvVars returns the environment variables read for provider's key
// when no keyring can be used, in order: a known provider's EnvVars, or
// else the name upper-cased, with "-" and "." turned into "_", followed by
// "_API_KEY" (OPENAI_API_KEY, MY_SERVER_API_KEY). It returns nil for a name
// that cannot make a variable.
func KeyEnvVars(provider string) []string {
	if p, ok := defaultProviders[provider]; ok && p.EnvVars != nil {
		return slices.Clone(p.EnvVars)
	}
	if provider == "" {
		return nil
	}
	var b strings.Builder
	for _, c := range provider {
		switch {
		case c >= 'a' && c <= 'z':
			b.WriteRune(c - 'a' + 'A')
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
			b.WriteRune(c)
		case c == '-' || c == '.':
			b.WriteByte('_')
		default:
			return nil
		}
	}
	return []string{b.String() + "_API_KEY"}
}

// KeyPrefix returns the longest of the known providers' KeyPrefixes that
// key starts with, or "": the public part of a key, which names its kind
// and carries no secret.
func KeyPrefix(key string) string {
	best := ""
	for _, p := range defaultProviders {
		for _, pre := range p.KeyPrefixes {
			if len(pre) > len(best) && strings.HasPrefix(key, pre) {
				best = pre
			}
		}
	}
	return best
}

// WithUpstreams returns a copy of ps with base URLs replaced by overrides
// (provider name → base URL). An override for an unknown name adds an
// OpenAI-compatible provider of that name, so a self-hosted model server can
// be reached under /NAME/v1.
func WithUpstreams(ps map[string]Provider, overrides map[string]string) (map[string]Provider, error) {
	out := make(map[string]Provider, len(ps)+len(overrides))
	for n, p := range ps {
		out[n] = p
	}
	for name, base := range overrides {
		if err := CheckUpstream(name, base); err != nil {
			return nil, err
		}
		name = strings.ToLower(strings.TrimSpace(name))
		u, _ := url.Parse(base)
		p, ok := out[name]
		if !ok {
			p = Provider{Name: name, Dialect: dialectOpenAI}
		}
		p.BaseURL = strings.TrimRight(base, "/")
		p.UnconfirmedHost = ""
		if !p.Keyless && !Official(name, base) {
			p.UnconfirmedHost = strings.ToLower(u.Host)
		}
		out[name] = p
	}
	return out, nil
}

// Official reports whether base is the official https address of the
// built-in provider name: its default base URL's host, over https.
func Official(name, base string) bool {
	def, ok := defaultProviders[name]
	if !ok {
		return false
	}
	u, err := url.Parse(base)
	d, derr := url.Parse(def.BaseURL)
	return err == nil && derr == nil && u.Scheme == "https" && d.Scheme == "https" && strings.EqualFold(u.Host, d.Host)
}

// Confirm returns a copy of ps in which keys may go to every host in
// hosts (host or host:port, as a URL spells it): the upstreams the user
// confirmed from the command line.
func Confirm(ps map[string]Provider, hosts []string) map[string]Provider {
	out := make(map[string]Provider, len(ps))
	for n, p := range ps {
		if p.UnconfirmedHost != "" {
			for _, h := range hosts {
				if strings.EqualFold(strings.TrimSpace(h), p.UnconfirmedHost) {
					p.UnconfirmedHost = ""
				}
			}
		}
		out[n] = p
	}
	return out
}

// HostOf returns the host (and port, if any) of a base URL, as Confirm
// takes it; "" when base is not a URL.
func HostOf(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}

// unconfirmedMessage explains why a key was not sent to p.
func unconfirmedMessage(p Provider) string {
	return fmt.Sprintf("Sluice will not send the %s key to %s: that is not %s's official address, and it was not confirmed from the command line. If that server is yours, confirm it: sluice settings set upstream.%s %s --allow-key-to %s (or start Sluice with --upstream %s=%s)",
		p.Name, p.UnconfirmedHost, p.Name, p.Name, p.BaseURL, p.UnconfirmedHost, p.Name, p.BaseURL)
}

// ErrInvalidUpstream is wrapped by CheckUpstream's errors.
var ErrInvalidUpstream = errors.New("invalid upstream")

// CheckUpstream reports what is wrong with an upstream override, name →
// base URL, if anything. The name, taken in lower case, is 1 to 40
// lower-case letters, digits and dashes: it is the /NAME/ prefix of the
// provider's routes and the keyring account of its key. The base is an
// http or https URL. The error wraps ErrInvalidUpstream.
func CheckUpstream(name, base string) error {
	low := strings.ToLower(strings.TrimSpace(name))
	if !validName(low) {
		return fmt.Errorf("%w name %q: use 1 to 40 lower-case letters, digits and dashes, such as my-server", ErrInvalidUpstream, name)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w %s=%s: want an http or https URL", ErrInvalidUpstream, low, base)
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
