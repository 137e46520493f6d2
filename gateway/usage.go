package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
)

// This file reads the usage each provider reports, from a whole JSON
// response body or event by event from a stream, and normalises it into a
// Usage (see record.go for what each count includes):
//
//   - OpenAI and OpenAI-compatible: usage.prompt_tokens includes cached
//     tokens and completion_tokens includes reasoning tokens, as Usage
//     wants. The Responses API says input_tokens and output_tokens for
//     the same things. A few compatible providers leave reasoning out of
//     completion_tokens; they are told apart by total_tokens.
//   - Anthropic: input_tokens excludes cache reads and cache writes, so
//     InputTokens is their sum; output_tokens includes thinking.
//   - Gemini: promptTokenCount includes cachedContentTokenCount;
//     toolUsePromptTokenCount (results of search and other built-in
//     tools) is input too; candidatesTokenCount excludes
//     thoughtsTokenCount, so OutputTokens is their sum.

// tokens is a token count as a provider reports it. It decodes leniently:
// a number with a fraction is rounded up, a number in a string (as proto
// JSON writes 64-bit integers) is read, and anything negative, not a
// number, or absurdly large is clamped, so no count is ever negative and
// sums of counts cannot overflow.
type tokens int64

// maxTokens bounds every count: some two billion, far above any context
// window, and low enough that a count times a choice count times a
// per-token price in picodollars stays well inside an int64.
const maxTokens = 1 << 31

func (t *tokens) UnmarshalJSON(b []byte) error {
	s := bytes.TrimSpace(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if n, ok := parseCount(string(s)); ok {
		*t = tokens(n)
	}
	return nil
}

// parseCount reads a non-negative count, clamped to maxTokens.
func parseCount(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return clampCount(float64(n)), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) || math.IsNaN(f) {
		return 0, false
	}
	return clampCount(math.Ceil(f)), true
}

func clampCount(f float64) int64 {
	switch {
	case f <= 0:
		return 0
	case f >= maxTokens:
		return maxTokens
	}
	return int64(f)
}

// normalize makes the parts of u fit inside their totals, whatever a
// provider reported, so a price computed from "input minus cached" can
// never go negative.
func (u Usage) normalize() Usage {
	u.InputTokens = max(u.InputTokens, 0)
	u.OutputTokens = max(u.OutputTokens, 0)
	u.CachedInputTokens = min(max(u.CachedInputTokens, 0), u.InputTokens)
	u.CacheWriteTokens = min(max(u.CacheWriteTokens, 0), u.InputTokens-u.CachedInputTokens)
	u.CacheWrite1hTokens = min(max(u.CacheWrite1hTokens, 0), u.CacheWriteTokens)
	u.ReasoningTokens = min(max(u.ReasoningTokens, 0), u.OutputTokens)
	u.CachedAudioTokens = min(max(u.CachedAudioTokens, 0), u.CachedInputTokens)
	in := u.InputTokens - u.CachedInputTokens - u.CacheWriteTokens
	u.InputAudioTokens = min(max(u.InputAudioTokens, 0), in)
	u.InputImageTokens = min(max(u.InputImageTokens, 0), in-u.InputAudioTokens)
	u.InputVideoTokens = min(max(u.InputVideoTokens, 0), in-u.InputAudioTokens-u.InputImageTokens)
	out := u.OutputTokens - u.ReasoningTokens
	u.OutputAudioTokens = min(max(u.OutputAudioTokens, 0), out)
	u.OutputImageTokens = min(max(u.OutputImageTokens, 0), out-u.OutputAudioTokens)
	u.OutputVideoTokens = min(max(u.OutputVideoTokens, 0), out-u.OutputAudioTokens-u.OutputImageTokens)
	u.WebSearchCalls = max(u.WebSearchCalls, 0)
	u.WebFetchCalls = max(u.WebFetchCalls, 0)
	u.CodeExecutionCalls = max(u.CodeExecutionCalls, 0)
	return u
}

// decodeJSON decodes data into v as far as it can: a member of an
// unexpected type is left zero rather than failing the whole document
// (encoding/json skips it, decodes the rest and reports an
// UnmarshalTypeError). It reports false for data that is not JSON.
func decodeJSON(data []byte, v any) bool {
	err := json.Unmarshal(data, v)
	var te *json.UnmarshalTypeError
	return err == nil || errors.As(err, &te)
}

// openAIUsage is the usage object of OpenAI's Chat Completions,
// Completions, Embeddings and Responses APIs, and of compatible providers.
type openAIUsage struct {
	PromptTokens      *tokens              `json:"prompt_tokens"`
	CompletionTokens  *tokens              `json:"completion_tokens"`
	TotalTokens       tokens               `json:"total_tokens"`
	PromptDetails     *openAIInputDetails  `json:"prompt_tokens_details"`
	CompletionDetails *openAIOutputDetails `json:"completion_tokens_details"`
	// DeepSeek reports cache hits here rather than in
	// prompt_tokens_details.
	PromptCacheHitTokens tokens `json:"prompt_cache_hit_tokens"`

	// The Responses API's names.
	InputTokens   *tokens              `json:"input_tokens"`
	OutputTokens  *tokens              `json:"output_tokens"`
	InputDetails  *openAIInputDetails  `json:"input_tokens_details"`
	OutputDetails *openAIOutputDetails `json:"output_tokens_details"`
}

// openAIInputDetails splits the input count: Chat Completions'
// prompt_tokens_details and the Responses API's input_tokens_details.
// Newer models report cache writes (cache_write_tokens), billed at their
// own rate; audio models report audio input (audio_tokens) and, in
// cached_tokens_details, the cached part of it.
type openAIInputDetails struct {
	CachedTokens        tokens `json:"cached_tokens"`
	CacheWriteTokens    tokens `json:"cache_write_tokens"`
	AudioTokens         tokens `json:"audio_tokens"`
	ImageTokens         tokens `json:"image_tokens"`
	CachedTokensDetails *struct {
		AudioTokens tokens `json:"audio_tokens"`
		ImageTokens tokens `json:"image_tokens"`
	} `json:"cached_tokens_details"`
}

// openAIOutputDetails splits the output count: reasoning, audio and image
// tokens are parts of it.
type openAIOutputDetails struct {
	ReasoningTokens tokens `json:"reasoning_tokens"`
	AudioTokens     tokens `json:"audio_tokens"`
	ImageTokens     tokens `json:"image_tokens"`
}

// usage converts u; ok is false when it holds no token counts.
func (u *openAIUsage) usage() (Usage, bool) {
	if u == nil {
		return Usage{}, false
	}
	var in, out, cached, reasoning int64
	ok := false
	if u.PromptTokens != nil || u.CompletionTokens != nil {
		ok = true
		in, out = deref(u.PromptTokens), deref(u.CompletionTokens)
	}
	if u.InputTokens != nil || u.OutputTokens != nil {
		ok = true
		in, out = deref(u.InputTokens), deref(u.OutputTokens)
	}
	if !ok {
		return Usage{}, false
	}
	inD := u.PromptDetails
	if inD == nil || inD.CachedTokens == 0 && inD.CacheWriteTokens == 0 && inD.AudioTokens == 0 && inD.ImageTokens == 0 {
		if u.InputDetails != nil {
			inD = u.InputDetails
		}
	}
	outD := u.CompletionDetails
	if outD == nil || outD.ReasoningTokens == 0 && outD.AudioTokens == 0 && outD.ImageTokens == 0 {
		if u.OutputDetails != nil {
			outD = u.OutputDetails
		}
	}
	var d openAIInputDetails
	if inD != nil {
		d = *inD
	}
	cached = int64(d.CachedTokens)
	if cached == 0 {
		cached = int64(u.PromptCacheHitTokens)
	}
	var od openAIOutputDetails
	if outD != nil {
		od = *outD
	}
	reasoning = int64(od.ReasoningTokens)
	// OpenAI counts reasoning inside completion_tokens. Some compatible
	// providers (xAI among them) count it beside: their total then adds
	// up only with reasoning added.
	if reasoning > 0 && int64(u.TotalTokens) == in+out+reasoning {
		out += reasoning
	}
	got := Usage{InputTokens: in, OutputTokens: out, CachedInputTokens: cached, ReasoningTokens: reasoning,
		CacheWriteTokens: int64(d.CacheWriteTokens), OutputAudioTokens: int64(od.AudioTokens), OutputImageTokens: int64(od.ImageTokens)}
	// audio_tokens and image_tokens count every input token of the
	// modality, cached ones included.
	var cachedAudio, cachedImage int64
	if cd := d.CachedTokensDetails; cd != nil {
		cachedAudio, cachedImage = int64(cd.AudioTokens), int64(cd.ImageTokens)
	}
	got.CachedAudioTokens = cachedAudio
	got.InputAudioTokens = max(int64(d.AudioTokens)-cachedAudio, 0)
	got.InputImageTokens = max(int64(d.ImageTokens)-cachedImage, 0)
	return got.normalize(), true
}

func deref(t *tokens) int64 {
	if t == nil {
		return 0
	}
	return int64(*t)
}

// anthropicUsage is the usage object of Anthropic's Messages API. Every
// count is a pointer because a stream's message_delta repeats only some
// of them.
type anthropicUsage struct {
	InputTokens   *tokens `json:"input_tokens"`
	CacheWrite    *tokens `json:"cache_creation_input_tokens"`
	CacheRead     *tokens `json:"cache_read_input_tokens"`
	CacheCreation *struct {
		Ephemeral5m tokens `json:"ephemeral_5m_input_tokens"`
		Ephemeral1h tokens `json:"ephemeral_1h_input_tokens"`
	} `json:"cache_creation"`
	OutputTokens  *tokens `json:"output_tokens"`
	OutputDetails *struct {
		ThinkingTokens tokens `json:"thinking_tokens"`
	} `json:"output_tokens_details"`
	// ServerToolUse counts the server-side tool calls billed per call.
	ServerToolUse *struct {
		WebSearchRequests     tokens `json:"web_search_requests"`
		WebFetchRequests      tokens `json:"web_fetch_requests"`
		CodeExecutionRequests tokens `json:"code_execution_requests"`
	} `json:"server_tool_use"`
	ServiceTier  string `json:"service_tier"`
	InferenceGeo string `json:"inference_geo"`
	Speed        string `json:"speed"`
}

// anthropicCounts are Anthropic's counts as it reports them, before
// normalisation.
type anthropicCounts struct {
	input, cacheRead, cacheWrite, cacheWrite5m, cacheWrite1h, output, thinking int64
	webSearch, webFetch, codeExec, codeBlocks                                  int64
	serviceTier, geo, speed                                                    string
	seen                                                                       bool
}

// apply takes every count u holds; Anthropic's counts are cumulative, so a
// later report replaces an earlier one.
func (c *anthropicCounts) apply(u *anthropicUsage) {
	if u == nil {
		return
	}
	set := func(dst *int64, t *tokens) {
		if t != nil {
			*dst = int64(*t)
			c.seen = true
		}
	}
	set(&c.input, u.InputTokens)
	set(&c.cacheRead, u.CacheRead)
	set(&c.cacheWrite, u.CacheWrite)
	set(&c.output, u.OutputTokens)
	if u.CacheCreation != nil {
		c.cacheWrite5m = int64(u.CacheCreation.Ephemeral5m)
		c.cacheWrite1h = int64(u.CacheCreation.Ephemeral1h)
	}
	if u.OutputDetails != nil {
		c.thinking = int64(u.OutputDetails.ThinkingTokens)
	}
	if s := u.ServerToolUse; s != nil {
		c.webSearch = max(c.webSearch, int64(s.WebSearchRequests))
		c.webFetch = max(c.webFetch, int64(s.WebFetchRequests))
		c.codeExec = max(c.codeExec, int64(s.CodeExecutionRequests))
	}
	if u.ServiceTier != "" {
		c.serviceTier = u.ServiceTier
	}
	if u.InferenceGeo != "" {
		c.geo = u.InferenceGeo
	}
	if u.Speed != "" {
		c.speed = u.Speed
	}
}

// contentBlocks counts the server-side code execution calls among a
// message's content blocks: Anthropic's usage has no count of them.
func (c *anthropicCounts) contentBlocks(blocks []anthropicBlock) {
	n := int64(0)
	for _, b := range blocks {
		if b.isCodeExecution() {
			n++
		}
	}
	c.codeBlocks = max(c.codeBlocks, n)
}

// anthropicBlock is a content block, as far as metering needs it.
type anthropicBlock struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// isCodeExecution reports whether b runs code in Anthropic's sandbox
// (code_execution, bash_code_execution, text_editor_code_execution).
func (b anthropicBlock) isCodeExecution() bool {
	return b.Type == "server_tool_use" && strings.Contains(b.Name, "code_execution")
}

func (c *anthropicCounts) usage() Usage {
	// cache_creation splits the writes by lifetime; their sum stands
	// when the total is missing.
	writes := max(c.cacheWrite, c.cacheWrite5m+c.cacheWrite1h)
	return Usage{
		InputTokens:        c.input + c.cacheRead + writes,
		OutputTokens:       c.output,
		CachedInputTokens:  c.cacheRead,
		CacheWriteTokens:   writes,
		CacheWrite1hTokens: c.cacheWrite1h,
		ReasoningTokens:    c.thinking,
		WebSearchCalls:     c.webSearch,
		WebFetchCalls:      c.webFetch,
		CodeExecutionCalls: max(c.codeExec, c.codeBlocks),
		ServiceTier:        c.serviceTier,
		InferenceGeo:       c.geo,
		Speed:              c.speed,
	}.normalize()
}

// geminiUsage is the usageMetadata object of the Gemini API.
type geminiUsage struct {
	PromptTokenCount        *tokens `json:"promptTokenCount"`
	CandidatesTokenCount    tokens  `json:"candidatesTokenCount"`
	CachedContentTokenCount tokens  `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      tokens  `json:"thoughtsTokenCount"`
	ToolUsePromptTokenCount tokens  `json:"toolUsePromptTokenCount"`
	TotalTokenCount         tokens  `json:"totalTokenCount"`
	// The counts above by modality (TEXT, IMAGE, VIDEO, AUDIO, DOCUMENT):
	// promptTokensDetails includes cached tokens, cacheTokensDetails
	// splits cachedContentTokenCount, candidatesTokensDetails
	// candidatesTokenCount.
	PromptDetails     []geminiModalityCount `json:"promptTokensDetails"`
	CacheDetails      []geminiModalityCount `json:"cacheTokensDetails"`
	CandidatesDetails []geminiModalityCount `json:"candidatesTokensDetails"`
	ToolUseDetails    []geminiModalityCount `json:"toolUsePromptTokensDetails"`
}

// geminiModalityCount is a ModalityTokenCount.
type geminiModalityCount struct {
	Modality   string `json:"modality"`
	TokenCount tokens `json:"tokenCount"`
}

// geminiModalities are the modalities Usage counts apart from text.
var geminiModalities = [3]string{"AUDIO", "IMAGE", "VIDEO"}

// byModality returns the counts of ds for each of geminiModalities.
func byModality(ds []geminiModalityCount) [3]int64 {
	var n [3]int64
	for _, d := range ds {
		for i, m := range geminiModalities {
			if strings.EqualFold(d.Modality, m) {
				n[i] += int64(d.TokenCount)
			}
		}
	}
	return n
}

// geminiCounts are Gemini's counts as it reports them. Every chunk of a
// stream repeats them cumulatively; merging keeps the largest of each, so
// a chunk that leaves one out cannot lower it.
type geminiCounts struct {
	prompt, candidates, cached, thoughts, toolUse int64
	// Modality counts, each in geminiModalities order.
	promptBy, cacheBy, candidatesBy [3]int64
	searches                        int64
	seen                            bool
}

func (c *geminiCounts) merge(u *geminiUsage) {
	if u == nil {
		return
	}
	c.seen = true
	c.prompt = max(c.prompt, deref(u.PromptTokenCount))
	c.candidates = max(c.candidates, int64(u.CandidatesTokenCount))
	c.cached = max(c.cached, int64(u.CachedContentTokenCount))
	c.thoughts = max(c.thoughts, int64(u.ThoughtsTokenCount))
	c.toolUse = max(c.toolUse, int64(u.ToolUsePromptTokenCount))
	prompt, tool := byModality(u.PromptDetails), byModality(u.ToolUseDetails)
	cache, cand := byModality(u.CacheDetails), byModality(u.CandidatesDetails)
	for i := range geminiModalities {
		c.promptBy[i] = max(c.promptBy[i], prompt[i]+tool[i])
		c.cacheBy[i] = max(c.cacheBy[i], cache[i])
		c.candidatesBy[i] = max(c.candidatesBy[i], cand[i])
	}
}

// grounding counts the Google Search queries the candidates ran, which
// grounding bills per query (or per request that ran any).
func (c *geminiCounts) grounding(cands []geminiCandidate) {
	n := int64(0)
	for _, cd := range cands {
		if cd.GroundingMetadata != nil {
			n += int64(len(cd.GroundingMetadata.WebSearchQueries))
		}
	}
	c.searches = max(c.searches, n)
}

func (c *geminiCounts) usage() Usage {
	return Usage{
		InputTokens:       c.prompt + c.toolUse,
		OutputTokens:      c.candidates + c.thoughts,
		CachedInputTokens: c.cached,
		ReasoningTokens:   c.thoughts,
		CachedAudioTokens: c.cacheBy[0],
		InputAudioTokens:  max(c.promptBy[0]-c.cacheBy[0], 0),
		InputImageTokens:  max(c.promptBy[1]-c.cacheBy[1], 0),
		InputVideoTokens:  max(c.promptBy[2]-c.cacheBy[2], 0),
		OutputAudioTokens: c.candidatesBy[0],
		OutputImageTokens: c.candidatesBy[1],
		OutputVideoTokens: c.candidatesBy[2],
		WebSearchCalls:    c.searches,
	}.normalize()
}

// geminiResponse is a GenerateContentResponse (or an embedding or count
// response), as far as metering needs it.
type geminiResponse struct {
	Candidates     []geminiCandidate `json:"candidates"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata *geminiUsage    `json:"usageMetadata"`
	ModelVersion  string          `json:"modelVersion"`
	ResponseID    string          `json:"responseId"`
	Error         json.RawMessage `json:"error"`
}

// geminiCandidate is a response candidate, as far as metering needs it.
type geminiCandidate struct {
	FinishReason      string `json:"finishReason"`
	GroundingMetadata *struct {
		WebSearchQueries []string `json:"webSearchQueries"`
	} `json:"groundingMetadata"`
}

// UsageFromBody reads the usage a provider reported in a complete
// (non-streamed) JSON response body of dialect on route, and the model it
// names. ok is false when the body reports no usage: an error body, an
// unexpected shape, or a Gemini embedding, which reports none (the caller
// charges its estimate). Token-counting routes are free: they report
// zero usage and ok.
//
// A Gemini streamGenerateContent body read without alt=sse (a JSON array
// of responses) is understood too.
func UsageFromBody(dialect, route string, body []byte) (u Usage, model string, ok bool) {
	switch dialect {
	case DialectOpenAI:
		var b struct {
			Model string       `json:"model"`
			Usage *openAIUsage `json:"usage"`
			XGroq *struct {
				Usage *openAIUsage `json:"usage"`
			} `json:"x_groq"`
			ServiceTier string         `json:"service_tier"`
			Output      []openAIOutput `json:"output"`
		}
		if !decodeJSON(body, &b) {
			return Usage{}, "", false
		}
		u, ok = b.Usage.usage()
		if !ok && b.XGroq != nil {
			u, ok = b.XGroq.Usage.usage()
		}
		u.ServiceTier = b.ServiceTier
		u.WebSearchCalls, u.CodeExecutionCalls = openAIToolCalls(b.Output)
		return u, b.Model, ok
	case DialectAnthropic:
		var b struct {
			Model   string           `json:"model"`
			Usage   *anthropicUsage  `json:"usage"`
			Content []anthropicBlock `json:"content"`
		}
		if !decodeJSON(body, &b) || !isObject(body) {
			return Usage{}, "", false
		}
		if route == "anthropic.count_tokens" {
			return Usage{}, "", true
		}
		var c anthropicCounts
		c.apply(b.Usage)
		c.contentBlocks(b.Content)
		return c.usage(), b.Model, c.seen
	case DialectGemini:
		var rs []geminiResponse
		if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '[' {
			if !decodeJSON(body, &rs) {
				return Usage{}, "", false
			}
		} else {
			var r geminiResponse
			if !decodeJSON(body, &r) || !isObject(body) {
				return Usage{}, "", false
			}
			rs = []geminiResponse{r}
		}
		if route == "gemini.countTokens" {
			return Usage{}, "", true
		}
		var c geminiCounts
		for i := range rs {
			c.merge(rs[i].UsageMetadata)
			c.grounding(rs[i].Candidates)
			if rs[i].ModelVersion != "" {
				model = rs[i].ModelVersion
			}
		}
		return c.usage(), model, c.seen
	}
	return Usage{}, "", false
}

// openAIOutput is an output item of a Responses API response.
type openAIOutput struct {
	Type string `json:"type"`
}

// openAIToolCalls counts the built-in tool calls among a response's output
// items that are billed per call: web searches and code interpreter runs.
func openAIToolCalls(items []openAIOutput) (webSearch, codeExec int64) {
	for _, it := range items {
		switch it.Type {
		case "web_search_call":
			webSearch++
		case "code_interpreter_call":
			codeExec++
		}
	}
	return webSearch, codeExec
}

// isObject reports whether b holds a JSON object (b is assumed valid).
func isObject(b []byte) bool {
	t := bytes.TrimSpace(b)
	return len(t) > 0 && t[0] == '{'
}

// StreamMeter follows one server-sent event stream of a dialect, event by
// event, noting the usage, model and outcome the provider reports while
// handing each event on. The zero value with Dialect and Route set is
// ready to use. A StreamMeter is not safe for concurrent use.
type StreamMeter struct {
	Dialect string // DialectOpenAI, DialectAnthropic or DialectGemini; any other passes events on unread
	Route   string // "openai.chat", "anthropic.messages", ...

	// HideUsage is for an OpenAI-style chat or completions stream whose
	// request Sluice gave stream_options.include_usage (AddStreamUsage)
	// though the caller had not asked for usage: Relay then drops the
	// extra usage-only chunk and strips the "usage":null member from every
	// other chunk, so the caller sees what it would have seen direct.
	HideUsage bool

	// Usage is the usage reported so far: the provider's latest
	// cumulative counts, never added twice.
	Usage Usage
	// Model is the model the provider says answered.
	Model string
	// UpstreamID is the provider's id of the answer: chat completion,
	// message or response id.
	UpstreamID string
	// Done is set once the stream's proper terminal event has been seen:
	// OpenAI's data: [DONE]; the Responses API's response.completed,
	// response.incomplete or response.failed; Anthropic's message_stop;
	// Gemini's chunk carrying a finishReason (or a blocked prompt). A
	// stream that ends without it was cut short.
	Done bool
	// ErrorMessage is set when the provider sent an error in the stream:
	// an OpenAI {"error":...} chunk, a Responses error or
	// response.failed event, Anthropic's error event, a Gemini
	// {"error":...} chunk.
	ErrorMessage string
	// Relayed counts the bytes Relay handed on.
	Relayed int64

	anthropic   anthropicCounts
	gemini      geminiCounts
	seq         int64  // the last Responses API sequence_number seen
	serviceTier string // an OpenAI chunk's service_tier
	codeBlocks  int64  // Anthropic code execution blocks started
}

// Relay notes ev and returns the bytes to pass to the client: ev.Raw, or
// with HideUsage an edited copy, or nil to drop the event.
func (m *StreamMeter) Relay(ev Event) []byte {
	out := ev.Raw
	if len(ev.Data) > 0 {
		switch m.Dialect {
		case DialectOpenAI:
			out = m.openAI(ev)
		case DialectAnthropic:
			m.anthropicEvent(ev)
		case DialectGemini:
			m.geminiChunk(ev)
		}
	}
	m.Relayed += int64(len(out))
	return out
}

var (
	usageKey  = []byte(`"usage"`)
	usageNull = []byte(`"usage":null`)
	// chunkKeys are the members that make a chunk worth decoding.
	chunkKeys = [][]byte{[]byte(`"error"`), []byte(`"x_groq"`), []byte(`"type"`)}
)

// plainChunk reports whether an OpenAI-style chunk can carry nothing the
// meter reads once the stream's id and model are known: no usage (or
// only "usage":null), no error, no Groq extension, no Responses event
// type. It looks at bytes, so a string in the chunk that happens to hold
// one of those names makes it answer false; false only means the chunk is
// decoded in full.
func plainChunk(data []byte) bool {
	for _, k := range chunkKeys {
		if bytes.Contains(data, k) {
			return false
		}
	}
	n := bytes.Count(data, usageKey)
	return n == 0 || n == 1 && bytes.Contains(data, usageNull)
}

// openAIChunk is a Chat Completions or Completions chunk, or a Responses
// API event, as far as metering needs it.
type openAIChunk struct {
	ID      string          `json:"id"`
	Model   string          `json:"model"`
	Choices json.RawMessage `json:"choices"`
	Usage   json.RawMessage `json:"usage"`
	Error   json.RawMessage `json:"error"`
	XGroq   *struct {
		Usage *openAIUsage `json:"usage"`
	} `json:"x_groq"`
	ServiceTier string `json:"service_tier"`

	// Responses API events.
	Type     string `json:"type"`
	Sequence tokens `json:"sequence_number"`
	Response *struct {
		ID          string          `json:"id"`
		Model       string          `json:"model"`
		Usage       *openAIUsage    `json:"usage"`
		Error       json.RawMessage `json:"error"`
		ServiceTier string          `json:"service_tier"`
		Output      []openAIOutput  `json:"output"`
	} `json:"response"`
	Code    json.RawMessage `json:"code"`
	Message string          `json:"message"`
}

func (m *StreamMeter) openAI(ev Event) []byte {
	data := bytes.TrimSpace(ev.Data)
	if bytes.Equal(data, []byte("[DONE]")) {
		m.Done = true
		return ev.Raw
	}
	if len(data) == 0 || data[0] != '{' {
		return ev.Raw
	}
	if m.UpstreamID != "" && m.Model != "" && plainChunk(data) {
		// A content delta like the hundreds before it: nothing to read,
		// so nothing to decode (or allocate) for it.
		if m.HideUsage && bytes.Contains(data, usageNull) {
			return stripNullMember(ev, "usage")
		}
		return ev.Raw
	}
	var c openAIChunk
	if !decodeJSON(data, &c) {
		return ev.Raw
	}
	if c.Type != "" && (strings.HasPrefix(c.Type, "response.") || c.Type == "error") {
		m.responsesEvent(&c)
		return ev.Raw
	}
	if c.ID != "" && m.UpstreamID == "" {
		m.UpstreamID = c.ID
	}
	if c.Model != "" {
		m.Model = c.Model
	}
	if c.ServiceTier != "" {
		m.serviceTier = c.ServiceTier
	}
	if isPresent(c.Error) {
		m.ErrorMessage = errorText(c.Error)
	}
	usageSet := isPresent(c.Usage)
	if usageSet {
		var u openAIUsage
		if decodeJSON(c.Usage, &u) {
			if got, ok := u.usage(); ok {
				m.Usage = got
			}
		}
	} else if c.XGroq != nil {
		if got, ok := c.XGroq.Usage.usage(); ok {
			m.Usage = got
		}
	}
	if !m.Usage.IsZero() {
		m.Usage.ServiceTier = m.serviceTier
	}
	if !m.HideUsage {
		return ev.Raw
	}
	if usageSet && isEmptyArray(c.Choices) {
		return nil // the usage-only chunk the caller did not ask for
	}
	if c.Usage != nil && !usageSet {
		return stripNullMember(ev, "usage")
	}
	return ev.Raw
}

// responsesEvent notes a Responses API event.
func (m *StreamMeter) responsesEvent(c *openAIChunk) {
	m.seq = max(m.seq, int64(c.Sequence))
	if r := c.Response; r != nil {
		if r.ID != "" {
			m.UpstreamID = r.ID
		}
		if r.Model != "" {
			m.Model = r.Model
		}
	}
	switch c.Type {
	case "response.completed", "response.incomplete", "response.failed":
		m.Done = true
		if c.Response == nil {
			return
		}
		if u, ok := c.Response.Usage.usage(); ok {
			m.Usage = u
			m.Usage.ServiceTier = c.Response.ServiceTier
			m.Usage.WebSearchCalls, m.Usage.CodeExecutionCalls = openAIToolCalls(c.Response.Output)
		}
		if c.Type == "response.failed" {
			m.ErrorMessage = "response failed"
			if isPresent(c.Response.Error) {
				m.ErrorMessage = errorText(c.Response.Error)
			}
		}
	case "error":
		switch {
		case isPresent(c.Error):
			m.ErrorMessage = errorText(c.Error)
		default:
			m.ErrorMessage = joinError(jsonString(c.Code), c.Message)
		}
	}
}

// anthropicEvent notes an Anthropic Messages stream event.
func (m *StreamMeter) anthropicEvent(ev Event) {
	switch ev.Name {
	case "content_block_start":
		// Only a server-side code execution block is metered: Anthropic
		// bills it but counts it nowhere in usage.
		if bytes.Contains(ev.Data, []byte("code_execution")) {
			var e struct {
				ContentBlock anthropicBlock `json:"content_block"`
			}
			if decodeJSON(ev.Data, &e) && e.ContentBlock.isCodeExecution() {
				m.codeBlocks++
				m.anthropic.codeBlocks = m.codeBlocks
				if m.anthropic.seen {
					m.Usage = m.anthropic.usage()
				}
			}
		}
		return
	case "content_block_delta", "content_block_stop", "ping":
		return // the bulk of a stream: nothing to meter
	}
	var e struct {
		Type    string `json:"type"`
		Message *struct {
			ID      string           `json:"id"`
			Model   string           `json:"model"`
			Usage   *anthropicUsage  `json:"usage"`
			Content []anthropicBlock `json:"content"`
		} `json:"message"`
		Usage *anthropicUsage `json:"usage"`
		Error json.RawMessage `json:"error"`
	}
	if !decodeJSON(ev.Data, &e) {
		return
	}
	switch e.Type {
	case "message_start":
		if e.Message == nil {
			return
		}
		if e.Message.ID != "" {
			m.UpstreamID = e.Message.ID
		}
		if e.Message.Model != "" {
			m.Model = e.Message.Model
		}
		m.anthropic.apply(e.Message.Usage)
		m.anthropic.contentBlocks(e.Message.Content)
	case "message_delta":
		// Cumulative counts: output so far, and input again when
		// server tools made it grow.
		m.anthropic.apply(e.Usage)
	case "message_stop":
		m.Done = true
	case "error":
		m.ErrorMessage = errorText(e.Error)
	}
	if m.anthropic.seen {
		m.Usage = m.anthropic.usage()
	}
}

// geminiChunk notes one GenerateContentResponse of a Gemini stream.
func (m *StreamMeter) geminiChunk(ev Event) {
	var r geminiResponse
	if !decodeJSON(ev.Data, &r) {
		return
	}
	if isPresent(r.Error) {
		m.ErrorMessage = errorText(r.Error)
	}
	if r.ModelVersion != "" {
		m.Model = r.ModelVersion
	}
	if r.ResponseID != "" {
		m.UpstreamID = r.ResponseID
	}
	for _, c := range r.Candidates {
		if c.FinishReason != "" {
			m.Done = true
		}
	}
	if r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
		m.Done = true // a refused prompt: no candidates will follow
	}
	m.gemini.grounding(r.Candidates)
	if r.UsageMetadata != nil {
		m.gemini.merge(r.UsageMetadata)
	}
	if m.gemini.seen {
		m.Usage = m.gemini.usage()
	}
}

// maxErrorMessage bounds ErrorMessage: it is for a log line, and the
// stream it came from is untrusted.
const maxErrorMessage = 1000

// errorText renders a provider's error member: an object with type, code,
// status and message, or a bare string.
func errorText(raw json.RawMessage) string {
	var e struct {
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
		Status  string          `json:"status"`
		Message string          `json:"message"`
	}
	var s string
	switch {
	case json.Unmarshal(raw, &s) == nil && s != "":
		return truncate(s)
	case decodeJSON(raw, &e):
		kind := e.Type
		if kind == "" {
			kind = e.Status
		}
		if kind == "" {
			kind = jsonString(e.Code)
		}
		return joinError(kind, e.Message)
	}
	return "upstream sent an error"
}

func joinError(kind, msg string) string {
	switch {
	case kind != "" && msg != "":
		return truncate(kind + ": " + msg)
	case msg != "":
		return truncate(msg)
	case kind != "":
		return truncate(kind)
	}
	return "upstream sent an error"
}

func truncate(s string) string {
	if len(s) <= maxErrorMessage {
		return s
	}
	return strings.ToValidUTF8(s[:maxErrorMessage], "") + "…"
}

// jsonString returns raw as text: a string's contents, a number's digits,
// "" for anything else.
func jsonString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// isPresent reports whether a member was present and not null.
func isPresent(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && !bytes.Equal(t, []byte("null"))
}

func isEmptyArray(raw json.RawMessage) bool {
	var a []json.RawMessage
	return isPresent(raw) && json.Unmarshal(raw, &a) == nil && len(a) == 0
}

// stripNullMember returns ev.Raw without the top-level member key of its
// JSON data, keeping every other byte as it came.
func stripNullMember(ev Event, key string) []byte {
	ms, _, _, ok := objectMembers(ev.Data)
	if !ok {
		return ev.Raw
	}
	i := lastMember(ms, key)
	if i < 0 {
		return ev.Raw
	}
	data := removeMember(ev.Data, ms, i)
	if raw, ok := replaceData(ev.Raw, data); ok {
		return raw
	}
	// The data came in several lines; one does as well.
	var b bytes.Buffer
	if ev.Name != "" {
		b.WriteString("event: " + ev.Name + "\n")
	}
	b.WriteString("data: ")
	b.Write(data)
	b.WriteString("\n\n")
	return b.Bytes()
}

// replaceData returns a copy of raw whose one data line carries data
// instead; ok is false unless raw has exactly one data line.
func replaceData(raw, data []byte) ([]byte, bool) {
	from, to, n := 0, 0, 0
	for off := 0; off < len(raw); {
		end := off
		for end < len(raw) && raw[end] != '\n' && raw[end] != '\r' {
			end++
		}
		line := raw[off:end]
		if name, value := splitFieldSafe(line); name == "data" {
			n++
			from, to = end-len(value), end
		}
		// Step over the line ending.
		switch {
		case end < len(raw) && raw[end] == '\r' && end+1 < len(raw) && raw[end+1] == '\n':
			off = end + 2
		case end < len(raw):
			off = end + 1
		default:
			off = end
		}
	}
	if n != 1 {
		return nil, false
	}
	out := make([]byte, 0, len(raw)-(to-from)+len(data))
	out = append(out, raw[:from]...)
	out = append(out, data...)
	return append(out, raw[to:]...), true
}

func splitFieldSafe(line []byte) (string, []byte) {
	if len(line) == 0 {
		return "", nil
	}
	name, value := splitField(line)
	return string(name), value
}

// CutEvent returns a terminal event for a stream Sluice ends early (a
// budget ran out mid-stream, or the upstream connection broke), in the
// dialect's own words, so the caller's SDK raises an error rather than
// taking the truncated answer for a whole one. Prefer StreamMeter.Cut,
// which numbers a Responses API event after the ones relayed.
//
// errType names the error. Sluice's own kinds are put in each dialect's
// words as its error responses put them: "budget_exceeded" (and
// "unpriced_model") is Anthropic's billing_error and a Gemini 402
// FAILED_PRECONDITION; "upstream_error" is api_error and 502 UNAVAILABLE;
// "upstream_timeout" is timeout_error and 504 DEADLINE_EXCEEDED. Any other
// word is used as it is: OpenAI's type and code, Anthropic's error type,
// Gemini's status (with the HTTP code Google uses for it).
//
// What each SDK does with it: the openai SDKs raise APIError on a chunk
// with an "error" member (Python) or on an "error" event (Node; the event
// also carries a nested "error" object, which the Python SDK needs);
// Anthropic's SDKs raise on event: error; google-genai (Python) raises on a
// chunk that is an {"error":...} object.
func CutEvent(dialect, route, errType, message string) []byte {
	return cutEvent(dialect, route, errType, message, 0)
}

// Cut returns CutEvent for m's stream, numbered after the events relayed
// where the dialect numbers its events. It is not counted in Relayed.
func (m *StreamMeter) Cut(errType, message string) []byte {
	return cutEvent(m.Dialect, m.Route, errType, message, m.seq+1)
}

func cutEvent(dialect, route, errType, message string, seq int64) []byte {
	var b bytes.Buffer
	switch dialect {
	case DialectAnthropic:
		v := struct {
			Type  string `json:"type"`
			Error struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}{Type: "error"}
		v.Error.Type, v.Error.Message = anthropicCutType(errType), message
		b.WriteString("event: error\ndata: ")
		b.Write(mustJSON(v))
		b.WriteString("\n\n")
	case DialectGemini:
		code, status := geminiCutStatus(errType)
		v := struct {
			Error struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
				Status  string `json:"status"`
			} `json:"error"`
		}{}
		v.Error.Code, v.Error.Message, v.Error.Status = code, message, status
		// Gemini frames its events with CRLF.
		b.WriteString("data: ")
		b.Write(mustJSON(v))
		b.WriteString("\r\n\r\n")
	default:
		if errType == "" {
			errType = "server_error"
		}
		type openAIError struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    string  `json:"code"`
		}
		e := openAIError{Message: message, Type: errType, Code: errType}
		if route == "openai.responses" {
			v := struct {
				Type     string      `json:"type"`
				Code     string      `json:"code"`
				Message  string      `json:"message"`
				Param    *string     `json:"param"`
				Sequence int64       `json:"sequence_number"`
				Error    openAIError `json:"error"`
			}{Type: "error", Code: errType, Message: message, Sequence: seq, Error: e}
			b.WriteString("event: error\ndata: ")
			b.Write(mustJSON(v))
		} else {
			b.WriteString("data: ")
			b.Write(mustJSON(struct {
				Error openAIError `json:"error"`
			}{e}))
		}
		b.WriteString("\n\n")
	}
	return b.Bytes()
}

func anthropicCutType(kind string) string {
	switch kind {
	case "budget_exceeded", "unpriced_model":
		return "billing_error"
	case "upstream_error", "":
		return "api_error"
	case "upstream_timeout":
		return "timeout_error"
	}
	return kind
}

// geminiCutStatus returns the HTTP code and google.rpc status for kind.
func geminiCutStatus(kind string) (int, string) {
	switch kind {
	case "budget_exceeded", "unpriced_model":
		return 402, "FAILED_PRECONDITION"
	case "upstream_error":
		return 502, "UNAVAILABLE"
	case "upstream_timeout":
		return 504, "DEADLINE_EXCEEDED"
	case "", "INTERNAL", "UNKNOWN", "DATA_LOSS":
		return 500, "INTERNAL"
	case "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE":
		return 400, kind
	case "UNAUTHENTICATED":
		return 401, kind
	case "PERMISSION_DENIED":
		return 403, kind
	case "NOT_FOUND":
		return 404, kind
	case "ABORTED", "ALREADY_EXISTS":
		return 409, kind
	case "RESOURCE_EXHAUSTED":
		return 429, kind
	case "CANCELLED":
		return 499, kind
	case "NOT_IMPLEMENTED", "UNIMPLEMENTED":
		return 501, kind
	case "UNAVAILABLE":
		return 503, kind
	case "DEADLINE_EXCEEDED":
		return 504, kind
	}
	return 500, kind
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only strings and numbers go in: Marshal cannot fail.
		panic("gateway: marshal cut event: " + err.Error())
	}
	return b
}

// member is one member of a JSON object, by byte offsets into the
// document: its key's opening quote, and its value.
type member struct {
	key              string
	keyStart         int
	valStart, valEnd int
}

// objectMembers lists the top-level members of the JSON object in b, and
// the offsets of its opening and closing braces. It checks the structure
// it walks, not every value: pass it JSON already known to be valid.
func objectMembers(b []byte) (ms []member, open, close int, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, 0, 0, false
	}
	open = i
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil, open, i, true
	}
	for i < len(b) {
		if b[i] != '"' {
			return nil, 0, 0, false
		}
		keyEnd := skipString(b, i)
		if keyEnd < 0 {
			return nil, 0, 0, false
		}
		var key string
		if json.Unmarshal(b[i:keyEnd], &key) != nil {
			return nil, 0, 0, false
		}
		j := skipSpace(b, keyEnd)
		if j >= len(b) || b[j] != ':' {
			return nil, 0, 0, false
		}
		vs := skipSpace(b, j+1)
		ve := skipValue(b, vs)
		if ve < 0 {
			return nil, 0, 0, false
		}
		ms = append(ms, member{key: key, keyStart: i, valStart: vs, valEnd: ve})
		i = skipSpace(b, ve)
		if i >= len(b) {
			return nil, 0, 0, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return ms, open, i, true
		default:
			return nil, 0, 0, false
		}
	}
	return nil, 0, 0, false
}

// lastMember returns the index of the last member named key (JSON
// parsers keep the last of duplicates), or -1.
func lastMember(ms []member, key string) int {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].key == key {
			return i
		}
	}
	return -1
}

// removeMember returns a copy of b without member i of ms, and without the
// comma that joined it to its neighbour.
func removeMember(b []byte, ms []member, i int) []byte {
	var from, to int
	switch {
	case i > 0:
		from, to = ms[i-1].valEnd, ms[i].valEnd
	case len(ms) > 1:
		from, to = ms[0].keyStart, ms[1].keyStart
	default:
		from, to = ms[0].keyStart, ms[0].valEnd
	}
	out := make([]byte, 0, len(b)-(to-from))
	out = append(out, b[:from]...)
	return append(out, b[to:]...)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the offset just past the string starting at b[i]
// (a '"'), or -1.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the offset just past the value starting at b[i], or
// -1 when it does not end.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j)
				if j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[j])) {
		j++
	}
	if j == i {
		return -1
	}
	return j
}
