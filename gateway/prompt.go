package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Prompt is a saved prompt: a template and a model that Sluice serves as
// an endpoint, POST /p/{Name}. Its inputs are the names the template (and
// the system text) write as {{name}}.
type Prompt struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	// Model is the model as a plain /v1 request would name it: the
	// provider is chosen the same way ("gpt-4o-mini", "claude-haiku-4-5",
	// "gemini-2.5-flash", "mistral/mistral-small-latest").
	Model    string `json:"model"`
	Template string `json:"template"`
	System   string `json:"system,omitempty"`
	// Schema, when set, is a JSON Schema the output must satisfy: the
	// provider is asked for JSON in its own JSON-schema mode and the
	// answer is validated (see checkSchema for the keywords supported).
	Schema      json.RawMessage `json:"schema,omitempty"`
	MaxTokens   int64           `json:"max_tokens,omitempty"`
	Temperature *float64        `json:"temperature,omitempty"`
	// Deleted marks the version that removed the prompt; rolling back
	// restores the one before.
	Deleted bool      `json:"deleted,omitempty"`
	Created time.Time `json:"created,omitzero"`
	// Note says where a version came from ("rollback to v2").
	Note string `json:"note,omitempty"`
}

// ErrInvalidPrompt is wrapped by Prompt.Validate's errors.
var ErrInvalidPrompt = errors.New("invalid prompt")

// maxPromptName is the longest prompt name: it is a path segment.
const maxPromptName = 64

// validPromptName reports whether s can name a prompt: lower-case letters,
// digits, '-' and '_', starting with a letter or digit, at most 64 long.
func validPromptName(s string) bool {
	if s == "" || len(s) > maxPromptName {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

// Validate reports what is wrong with p, if anything, in words a user can
// act on. The error wraps ErrInvalidPrompt.
func (p Prompt) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidPrompt, fmt.Sprintf(format, args...))
	}
	if !validPromptName(p.Name) {
		return bad("name %q: use lower-case letters, digits, - and _ (at most %d), starting with a letter or digit", p.Name, maxPromptName)
	}
	if strings.TrimSpace(p.Model) == "" {
		return bad("prompt %s names no model", p.Name)
	}
	if strings.TrimSpace(p.Template) == "" {
		return bad("prompt %s has an empty template", p.Name)
	}
	if p.MaxTokens < 0 {
		return bad("max tokens %d is negative", p.MaxTokens)
	}
	if t := p.Temperature; t != nil && (*t < 0 || *t > 2) {
		return bad("temperature %g is not between 0 and 2", *t)
	}
	if len(p.Schema) > 0 {
		if err := checkSchema(p.Schema); err != nil {
			return fmt.Errorf("%w: schema: %w", ErrInvalidPrompt, err)
		}
	}
	return nil
}

// Inputs returns the names of p's inputs, in the order they first appear
// in the system text and then the template.
func (p Prompt) Inputs() []string {
	var names []string
	seen := map[string]bool{}
	for _, s := range []string{p.System, p.Template} {
		for _, part := range parseTemplate(s) {
			if part.input != "" && !seen[part.input] {
				seen[part.input] = true
				names = append(names, part.input)
			}
		}
	}
	return names
}

// inputError is a call whose inputs do not fit the prompt: some are
// missing, or some are not the prompt's.
type inputError struct {
	Missing []string
	Unknown []string
	Inputs  []string // the prompt's inputs
}

func (e *inputError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, "missing input "+quoteList(e.Missing))
	}
	if len(e.Unknown) > 0 {
		parts = append(parts, "unknown input "+quoteList(e.Unknown))
	}
	want := "it takes no inputs"
	if len(e.Inputs) > 0 {
		want = "it takes " + quoteList(e.Inputs)
	}
	return strings.Join(parts, "; ") + " (" + want + ")"
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// render fills p's system text and template with inputs. Each {{name}} is
// replaced by its input's text in a single pass over the template: what
// an input contains is data and is never read as template syntax, so an
// input holding "{{other}}" appears as those characters. Every input the
// prompt names must be given and every input given must be one it names,
// or render returns an *inputError.
func (p Prompt) render(inputs map[string]string) (system, user string, err error) {
	names := p.Inputs()
	var ie inputError
	known := map[string]bool{}
	for _, n := range names {
		known[n] = true
		if _, ok := inputs[n]; !ok {
			ie.Missing = append(ie.Missing, n)
		}
	}
	for n := range inputs {
		if !known[n] {
			ie.Unknown = append(ie.Unknown, n)
		}
	}
	if len(ie.Missing) > 0 || len(ie.Unknown) > 0 {
		sort.Strings(ie.Unknown)
		ie.Inputs = names
		return "", "", &ie
	}
	return fill(p.System, inputs), fill(p.Template, inputs), nil
}

// fill substitutes inputs into s in one pass.
func fill(s string, inputs map[string]string) string {
	var b strings.Builder
	for _, part := range parseTemplate(s) {
		if part.input != "" {
			b.WriteString(inputs[part.input])
		} else {
			b.WriteString(part.text)
		}
	}
	return b.String()
}

// templatePart is literal text or an input's place.
type templatePart struct {
	text  string
	input string
}

// parseTemplate splits s into literal text and {{name}} places, where a
// name is a letter or '_' followed by letters, digits and '_', with spaces
// allowed inside the braces. Braces around anything else are literal text.
func parseTemplate(s string) []templatePart {
	var parts []templatePart
	lit := 0
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], "{{")
		if j < 0 {
			break
		}
		open := i + j
		end := strings.Index(s[open+2:], "}}")
		if end < 0 {
			break
		}
		name := strings.TrimSpace(s[open+2 : open+2+end])
		if !validInputName(name) {
			i = open + 1
			continue
		}
		if open > lit {
			parts = append(parts, templatePart{text: s[lit:open]})
		}
		parts = append(parts, templatePart{input: name})
		i = open + 2 + end + 2
		lit = i
	}
	if lit < len(s) {
		parts = append(parts, templatePart{text: s[lit:]})
	}
	return parts
}

func validInputName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// promptInputs reads a call's inputs: a JSON object whose values are
// strings (numbers, booleans and nested values are taken as their JSON
// text), or, for any other content type, the whole body as the input
// "text".
func promptInputs(contentType string, body []byte) (map[string]string, error) {
	ct := strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	if ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		return map[string]string{"text": string(body)}, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, errors.New("the body must be a JSON object of inputs, such as {\"text\": \"...\"}, or text/plain as the input \"text\"")
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if string(v) == "null" {
			return nil, fmt.Errorf("input %q is null", k)
		}
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			out[k] = s
			continue
		}
		out[k] = string(v)
	}
	return out, nil
}

// PromptPreview is a prompt rendered with some inputs, before it is sent.
type PromptPreview struct {
	Inputs  []string `json:"inputs"`  // the prompt's inputs
	Missing []string `json:"missing"` // those not given, left as {{name}} in the text
	System  string   `json:"system,omitempty"`
	User    string   `json:"user"`
	// Provider and Request are the provider it goes to and the body sent
	// to it (without streaming).
	Provider string          `json:"provider,omitempty"`
	Request  json.RawMessage `json:"request,omitempty"`
	// Problem says why the prompt cannot be sent as it is, if it cannot.
	Problem string `json:"problem,omitempty"`
}

// PreviewPrompt renders p with the inputs given, leaving each missing one
// as {{name}}, and builds the request it would send with providers and
// prices, routed among the formats px speaks, as a call through px
// would be. A nil px (no gateway running) speaks the formats Sluice
// ships.
func (px *Proxy) PreviewPrompt(p Prompt, inputs map[string]string, providers map[string]Provider, prices *Prices) PromptPreview {
	pv := PromptPreview{Inputs: orEmpty(p.Inputs()), Missing: []string{}}
	filled := make(map[string]string, len(pv.Inputs))
	for _, n := range pv.Inputs {
		if v, ok := inputs[n]; ok {
			filled[n] = v
		} else {
			pv.Missing = append(pv.Missing, n)
			filled[n] = "{{" + n + "}}"
		}
	}
	pv.System, pv.User = fill(p.System, filled), fill(p.Template, filled)
	if err := p.Validate(); err != nil {
		pv.Problem = err.Error()
		return pv
	}
	ds := px.dialectList()
	prov, _ := promptProvider(ds, p.Model, providers, prices)
	pv.Provider = prov
	preq, err := providerRequest(ds, p, pv.System, pv.User, false, providers, prices)
	if err != nil {
		pv.Problem = err.Error()
		return pv
	}
	pv.Request = preq.body
	return pv
}
