package gateway

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
)

// The readers of provider answers as they were before they used the
// scanner: encoding/json on the members a struct names. They are kept
// here as the reference the scanner-based readers must agree with.

// usage reads a Chat Completions, Completions, Embeddings or Responses
// answer; Groq's x_groq usage stands in when usage is missing.
func refOpenAIUsage(body []byte) (Usage, string, bool) {
	var b struct {
		Model string             `json:"model"`
		Usage *refOpenAIUsageObj `json:"usage"`
		XGroq *struct {
			Usage *refOpenAIUsageObj `json:"usage"`
		} `json:"x_groq"`
		ServiceTier string            `json:"service_tier"`
		Output      []refOpenAIOutput `json:"output"`
	}
	if !decodeMembers(body, &b) {
		return Usage{}, "", false
	}
	u, ok := b.Usage.usage()
	if !ok && b.XGroq != nil {
		u, ok = b.XGroq.Usage.usage()
	}
	u.ServiceTier = b.ServiceTier
	u.WebSearchCalls, u.CodeExecutionCalls = refOpenAIToolCalls(b.Output)
	return u, b.Model, ok
}

// refOpenAIUsageObj is the usage object of OpenAI's Chat Completions,
// Completions, Embeddings and Responses APIs, and of compatible providers.
type refOpenAIUsageObj struct {
	PromptTokens      *tokens                 `json:"prompt_tokens"`
	CompletionTokens  *tokens                 `json:"completion_tokens"`
	TotalTokens       tokens                  `json:"total_tokens"`
	PromptDetails     *refOpenAIInputDetails  `json:"prompt_tokens_details"`
	CompletionDetails *refOpenAIOutputDetails `json:"completion_tokens_details"`
	// DeepSeek reports cache hits here rather than in
	// prompt_tokens_details.
	PromptCacheHitTokens tokens `json:"prompt_cache_hit_tokens"`

	// The Responses API's names.
	InputTokens   *tokens                 `json:"input_tokens"`
	OutputTokens  *tokens                 `json:"output_tokens"`
	InputDetails  *refOpenAIInputDetails  `json:"input_tokens_details"`
	OutputDetails *refOpenAIOutputDetails `json:"output_tokens_details"`
}

// refOpenAIInputDetails splits the input count: Chat Completions'
// prompt_tokens_details and the Responses API's input_tokens_details.
// Newer models report cache writes (cache_write_tokens), billed at their
// own rate; audio models report audio input (audio_tokens) and, in
// cached_tokens_details, the cached part of it.
type refOpenAIInputDetails struct {
	CachedTokens        tokens `json:"cached_tokens"`
	CacheWriteTokens    tokens `json:"cache_write_tokens"`
	AudioTokens         tokens `json:"audio_tokens"`
	ImageTokens         tokens `json:"image_tokens"`
	CachedTokensDetails *struct {
		AudioTokens tokens `json:"audio_tokens"`
		ImageTokens tokens `json:"image_tokens"`
	} `json:"cached_tokens_details"`
}

// refOpenAIOutputDetails splits the output count: reasoning, audio and image
// tokens are parts of it.
type refOpenAIOutputDetails struct {
	ReasoningTokens tokens `json:"reasoning_tokens"`
	AudioTokens     tokens `json:"audio_tokens"`
	ImageTokens     tokens `json:"image_tokens"`
}

// usage converts u; ok is false when it holds no token counts.
func (u *refOpenAIUsageObj) usage() (Usage, bool) {
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
	var d refOpenAIInputDetails
	if inD != nil {
		d = *inD
	}
	cached = int64(d.CachedTokens)
	if cached == 0 {
		cached = int64(u.PromptCacheHitTokens)
	}
	var od refOpenAIOutputDetails
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

// refOpenAIOutput is an output item of a Responses API response.
type refOpenAIOutput struct {
	Type string `json:"type"`
}

// refOpenAIToolCalls counts the built-in tool calls among a response's output
// items that are billed per call: web searches and code interpreter runs.
func refOpenAIToolCalls(items []refOpenAIOutput) (webSearch, codeExec int64) {
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

// refPlainChunk is plainChunk as one search per name.
func refPlainChunk(data []byte) bool {
	for _, k := range [][]byte{[]byte(`"error"`), []byte(`"x_groq"`), []byte(`"type"`)} {
		if bytes.Contains(data, k) {
			return false
		}
	}
	n := bytes.Count(data, []byte(`"usage"`))
	return n == 0 || n == 1 && bytes.Contains(data, []byte(`"usage":null`))
}

// usage reads a Messages answer; counting tokens is free.
func refAnthropicUsage(rt route, body []byte) (Usage, string, bool) {
	var b struct {
		Model   string                `json:"model"`
		Usage   *refAnthropicUsageObj `json:"usage"`
		Content []refAnthropicBlock   `json:"content"`
	}
	if !decodeMembers(body, &b) || !isObject(body) {
		return Usage{}, "", false
	}
	if rt.Free {
		return Usage{}, "", true
	}
	var c anthropicCounts
	c.refApply(b.Usage)
	c.refContentBlocks(b.Content)
	return c.usage(), b.Model, c.seen
}

// refAnthropicUsageObj is the usage object of Anthropic's Messages API. Every
// count is a pointer because a stream's message_delta repeats only some
// of them.
type refAnthropicUsageObj struct {
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

// apply takes every count u holds; Anthropic's counts are cumulative, so a
// later report replaces an earlier one.
func (c *anthropicCounts) refApply(u *refAnthropicUsageObj) {
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
func (c *anthropicCounts) refContentBlocks(blocks []refAnthropicBlock) {
	n := int64(0)
	for _, b := range blocks {
		if b.isCodeExecution() {
			n++
		}
	}
	c.codeBlocks = max(c.codeBlocks, n)
}

// refAnthropicBlock is a content block, as far as metering needs it.
type refAnthropicBlock struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// isCodeExecution reports whether b runs code in Anthropic's sandbox
// (code_execution, bash_code_execution, text_editor_code_execution).
func (b refAnthropicBlock) isCodeExecution() bool {
	return b.Type == "server_tool_use" && strings.Contains(b.Name, "code_execution")
}

// usage reads a generateContent answer, or a streamGenerateContent one
// read without alt=sse (a JSON array of responses); counting tokens is
// free, and embeddings report no usage (the caller charges its
// estimate).
func refGeminiAnswerUsage(rt route, body []byte) (Usage, string, bool) {
	var rs []refGeminiResponse
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '[' {
		if !decodeJSON(body, &rs) {
			return Usage{}, "", false
		}
	} else {
		var r refGeminiResponse
		if !decodeMembers(body, &r) || !isObject(body) {
			return Usage{}, "", false
		}
		rs = []refGeminiResponse{r}
	}
	if rt.Free {
		return Usage{}, "", true
	}
	var c geminiCounts
	var model string
	for i := range rs {
		c.refMerge(rs[i].UsageMetadata)
		c.refGrounding(rs[i].Candidates)
		if rs[i].ModelVersion != "" {
			model = rs[i].ModelVersion
		}
	}
	return c.usage(), model, c.seen
}

// refGeminiUsage is the usageMetadata object of the Gemini API.
type refGeminiUsage struct {
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
	PromptDetails     []refGeminiModalityCount `json:"promptTokensDetails"`
	CacheDetails      []refGeminiModalityCount `json:"cacheTokensDetails"`
	CandidatesDetails []refGeminiModalityCount `json:"candidatesTokensDetails"`
	ToolUseDetails    []refGeminiModalityCount `json:"toolUsePromptTokensDetails"`
}

// refGeminiModalityCount is a ModalityTokenCount.
type refGeminiModalityCount struct {
	Modality   string `json:"modality"`
	TokenCount tokens `json:"tokenCount"`
}

// refGeminiModalities are the modalities Usage counts apart from text.
var refGeminiModalities = [3]string{"AUDIO", "IMAGE", "VIDEO"}

// refByModality returns the counts of ds for each of refGeminiModalities.
func refByModality(ds []refGeminiModalityCount) [3]int64 {
	var n [3]int64
	for _, d := range ds {
		for i, m := range refGeminiModalities {
			if strings.EqualFold(d.Modality, m) {
				n[i] += int64(d.TokenCount)
			}
		}
	}
	return n
}

func (c *geminiCounts) refMerge(u *refGeminiUsage) {
	if u == nil {
		return
	}
	c.seen = true
	c.prompt = max(c.prompt, deref(u.PromptTokenCount))
	c.candidates = max(c.candidates, int64(u.CandidatesTokenCount))
	c.cached = max(c.cached, int64(u.CachedContentTokenCount))
	c.thoughts = max(c.thoughts, int64(u.ThoughtsTokenCount))
	c.toolUse = max(c.toolUse, int64(u.ToolUsePromptTokenCount))
	prompt, tool := refByModality(u.PromptDetails), refByModality(u.ToolUseDetails)
	cache, cand := refByModality(u.CacheDetails), refByModality(u.CandidatesDetails)
	for i := range refGeminiModalities {
		c.promptBy[i] = max(c.promptBy[i], prompt[i]+tool[i])
		c.cacheBy[i] = max(c.cacheBy[i], cache[i])
		c.candidatesBy[i] = max(c.candidatesBy[i], cand[i])
	}
}

// grounding counts the Google Search queries the candidates ran, which
// grounding bills per query (or per request that ran any).
func (c *geminiCounts) refGrounding(cands []refGeminiCandidate) {
	n := int64(0)
	for _, cd := range cands {
		if cd.GroundingMetadata != nil {
			n += int64(len(cd.GroundingMetadata.WebSearchQueries))
		}
	}
	c.searches = max(c.searches, n)
}

// refGeminiResponse is a GenerateContentResponse (or an embedding or count
// response), as far as metering needs it.
type refGeminiResponse struct {
	Candidates     []refGeminiCandidate `json:"candidates"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata *refGeminiUsage `json:"usageMetadata"`
	ModelVersion  string          `json:"modelVersion"`
	ResponseID    string          `json:"responseId"`
	Error         json.RawMessage `json:"error"`
}

// refGeminiCandidate is a response candidate, as far as metering needs it.
type refGeminiCandidate struct {
	FinishReason      string `json:"finishReason"`
	GroundingMetadata *struct {
		WebSearchQueries []string `json:"webSearchQueries"`
	} `json:"groundingMetadata"`
}

// event notes one GenerateContentResponse of a Gemini stream.
func refGeminiEvent(g *geminiCounts, m *streamMeter, ev streamEvent) []byte {
	var r refGeminiResponse
	if !decodeJSON(ev.Data, &r) {
		return ev.Raw
	}
	if isPresent(r.Error) {
		m.ErrorMessage = geminiError(r.Error).text()
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
	g.refGrounding(r.Candidates)
	if r.UsageMetadata != nil {
		g.refMerge(r.UsageMetadata)
	}
	if g.seen {
		m.Usage = g.usage()
	}
	return ev.Raw
}

// event notes an Anthropic Messages stream event.
func refAnthropicEvent(a *anthropicMeter, m *streamMeter, ev streamEvent) []byte {
	switch ev.Name {
	case "content_block_start":
		// Only a server-side code execution block is metered: Anthropic
		// bills it but counts it nowhere in usage.
		if bytes.Contains(ev.Data, []byte("code_execution")) {
			var e struct {
				ContentBlock refAnthropicBlock `json:"content_block"`
			}
			if decodeJSON(ev.Data, &e) && e.ContentBlock.isCodeExecution() {
				a.codeBlocks++
				a.counts.codeBlocks = a.codeBlocks
				if a.counts.seen {
					m.Usage = a.counts.usage()
				}
			}
		}
		return ev.Raw
	case "content_block_delta", "content_block_stop", "ping":
		return ev.Raw // the bulk of a stream: nothing to meter
	}
	var e struct {
		Type    string `json:"type"`
		Message *struct {
			ID      string                `json:"id"`
			Model   string                `json:"model"`
			Usage   *refAnthropicUsageObj `json:"usage"`
			Content []refAnthropicBlock   `json:"content"`
		} `json:"message"`
		Usage *refAnthropicUsageObj `json:"usage"`
		Error json.RawMessage       `json:"error"`
	}
	if !decodeJSON(ev.Data, &e) {
		return ev.Raw
	}
	switch e.Type {
	case "message_start":
		if e.Message == nil {
			return ev.Raw
		}
		if e.Message.ID != "" {
			m.UpstreamID = e.Message.ID
		}
		if e.Message.Model != "" {
			m.Model = e.Message.Model
		}
		a.counts.refApply(e.Message.Usage)
		a.counts.refContentBlocks(e.Message.Content)
	case "message_delta":
		// Cumulative counts: output so far, and input again when
		// server tools made it grow.
		a.counts.refApply(e.Usage)
	case "message_stop":
		m.Done = true
	case "error":
		m.ErrorMessage = anthropicError(e.Error).text()
	}
	if a.counts.seen {
		m.Usage = a.counts.usage()
	}
	return ev.Raw
}

// decodeMembers is decodeJSON(data, v) for v a pointer to a struct: it
// hands encoding/json only the members of the object in data that name
// a field of v (by its JSON name, without regard to case, as
// encoding/json matches them), in their order, duplicates and all. The
// rest, a long answer's text above all, is walked over by the scanner
// instead of decoded. Data that is not an object goes to decodeJSON
// whole.
func decodeMembers(data []byte, v any) bool {
	names := jsonFieldNames(reflect.TypeOf(v))
	if names == nil {
		return decodeJSON(data, v)
	}
	i := spaceEnd(data, 0)
	if i >= len(data) || data[i] != '{' {
		return decodeJSON(data, v)
	}
	picked := make([]byte, 0, 256)
	picked = append(picked, '{')
	err := scanObject(data, func(key, val []byte) bool {
		name := rawText(key)
		for _, n := range names {
			if bytes.EqualFold(name, n) {
				if len(picked) > 1 {
					picked = append(picked, ',')
				}
				picked = append(picked, key...)
				picked = append(picked, ':')
				picked = append(picked, val...)
				break
			}
		}
		return true
	})
	if err != nil {
		return false
	}
	return decodeJSON(append(picked, '}'), v)
}

// refOpenAIChunk is a Chat Completions or Completions chunk, or a Responses
// API event, as far as metering needs it.
type refOpenAIChunk struct {
	ID      string          `json:"id"`
	Model   string          `json:"model"`
	Choices json.RawMessage `json:"choices"`
	Usage   json.RawMessage `json:"usage"`
	Error   json.RawMessage `json:"error"`
	XGroq   *struct {
		Usage *refOpenAIUsageObj `json:"usage"`
	} `json:"x_groq"`
	ServiceTier string `json:"service_tier"`

	// Responses API events.
	Type     string `json:"type"`
	Sequence tokens `json:"sequence_number"`
	Response *struct {
		ID          string             `json:"id"`
		Model       string             `json:"model"`
		Usage       *refOpenAIUsageObj `json:"usage"`
		Error       json.RawMessage    `json:"error"`
		ServiceTier string             `json:"service_tier"`
		Output      []refOpenAIOutput  `json:"output"`
	} `json:"response"`
	Code    json.RawMessage `json:"code"`
	Message string          `json:"message"`
}

// refOpenAIEvent is openAIMeter.event with encoding/json.
func refOpenAIEvent(m *streamMeter, ev streamEvent) []byte {
	data := bytes.TrimSpace(ev.Data)
	if bytes.Equal(data, []byte("[DONE]")) {
		m.Done = true
		return ev.Raw
	}
	if len(data) == 0 || data[0] != '{' {
		return ev.Raw
	}
	if m.UpstreamID != "" && m.Model != "" && refPlainChunk(data) {
		// A content delta like the hundreds before it: nothing to read,
		// so nothing to decode (or allocate) for it.
		if m.HideUsage && bytes.Contains(data, usageNull) {
			return refStripNullMember(ev, "usage")
		}
		return ev.Raw
	}
	var c refOpenAIChunk
	if !decodeJSON(data, &c) {
		return ev.Raw
	}
	if c.Type != "" && (strings.HasPrefix(c.Type, "response.") || c.Type == "error") {
		refResponsesEvent(m, &c)
		return ev.Raw
	}
	if c.ID != "" && m.UpstreamID == "" {
		m.UpstreamID = c.ID
	}
	if c.Model != "" {
		m.Model = c.Model
	}
	if c.ServiceTier != "" {
		m.tier = c.ServiceTier
	}
	if isPresent(c.Error) {
		m.ErrorMessage = openAIError(c.Error).text()
	}
	usageSet := isPresent(c.Usage)
	if usageSet {
		var u refOpenAIUsageObj
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
		m.Usage.ServiceTier = m.tier
	}
	if !m.HideUsage {
		return ev.Raw
	}
	if usageSet && isEmptyArray(c.Choices) {
		return nil // the usage-only chunk the caller did not ask for
	}
	if c.Usage != nil && !usageSet {
		return refStripNullMember(ev, "usage")
	}
	return ev.Raw
}

// responsesEvent notes a Responses API event.
func refResponsesEvent(m *streamMeter, c *refOpenAIChunk) {
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
			m.Usage.WebSearchCalls, m.Usage.CodeExecutionCalls = refOpenAIToolCalls(c.Response.Output)
		}
		if c.Type == "response.failed" {
			m.ErrorMessage = "response failed"
			if isPresent(c.Response.Error) {
				m.ErrorMessage = openAIError(c.Response.Error).text()
			}
		}
	case "error":
		switch {
		case isPresent(c.Error):
			m.ErrorMessage = openAIError(c.Error).text()
		default:
			m.ErrorMessage = joinError(jsonString(c.Code), c.Message)
		}
	}
}

// fieldNames caches jsonFieldNames.
var fieldNames sync.Map // reflect.Type → [][]byte

// jsonFieldNames returns the JSON names of the fields of the struct t
// points to, or nil when t is not a pointer to a struct whose members
// encoding/json finds by name alone (one with embedded fields).
func jsonFieldNames(t reflect.Type) [][]byte {
	if v, ok := fieldNames.Load(t); ok {
		return v.([][]byte)
	}
	var names [][]byte
	if t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct {
		st := t.Elem()
		names = [][]byte{}
		for i := range st.NumField() {
			f := st.Field(i)
			if f.Anonymous {
				names = nil
				break
			}
			tag := f.Tag.Get("json")
			name, _, _ := strings.Cut(tag, ",")
			if !f.IsExported() || tag == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			names = append(names, []byte(name))
		}
	}
	fieldNames.Store(t, names)
	return names
}

func isEmptyArray(raw json.RawMessage) bool {
	var a []json.RawMessage
	return isPresent(raw) && json.Unmarshal(raw, &a) == nil && len(a) == 0
}

// refStripNullMember is stripNullMember as it was, through objectMembers
// and a copy per step: the reference it must agree with.
func refStripNullMember(ev streamEvent, key string) []byte {
	ms, _, _, ok := refObjectMembers(ev.Data)
	if !ok {
		return ev.Raw
	}
	i := lastMember(ms, key)
	if i < 0 {
		return ev.Raw
	}
	data := refRemoveMember(ev.Data, ms, i)
	if raw, ok := refReplaceData(ev.Raw, data); ok {
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

// refReplaceData returns a copy of raw whose one data line carries data
// instead; ok is false unless raw has exactly one data line.
func refReplaceData(raw, data []byte) ([]byte, bool) {
	from, to, n := 0, 0, 0
	for off := 0; off < len(raw); {
		end := off
		for end < len(raw) && raw[end] != '\n' && raw[end] != '\r' {
			end++
		}
		line := raw[off:end]
		if name, value := refSplitFieldSafe(line); name == "data" {
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

func refSplitFieldSafe(line []byte) (string, []byte) {
	if len(line) == 0 {
		return "", nil
	}
	name, value := splitField(line)
	return string(name), value
}

// refRemoveMember returns a copy of b without member i of ms, and without the
// comma that joined it to its neighbour.
func refRemoveMember(b []byte, ms []member, i int) []byte {
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

// refObjectMembers is objectMembers as it was, with each key decoded by
// encoding/json.
func refObjectMembers(b []byte) (ms []member, open, close int, ok bool) {
	ms, open, close, ok = objectMembers(b)
	if !ok {
		return nil, 0, 0, false
	}
	for i := range ms {
		var key string
		end := skipString(b, ms[i].keyStart)
		if json.Unmarshal(b[ms[i].keyStart:end], &key) != nil {
			return nil, 0, 0, false
		}
		ms[i].key = []byte(key)
	}
	return ms, open, close, true
}
