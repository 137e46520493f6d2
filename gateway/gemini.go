package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// geminiDialect is Google's Gemini API (generativelanguage). Its SDKs
// take the bare address as base URL, name the model in the path
// (/v1beta/models/{model}:generateContent) and send the key in
// x-goog-api-key (or ?key=).
type geminiDialect struct{}

// dialectGemini names Gemini's format in Provider.Dialect.
const dialectGemini = "gemini"

// Gemini's metered routes.
const (
	routeGeminiGenerate    routeName = "gemini.generateContent"
	routeGeminiStream      routeName = "gemini.streamGenerateContent"
	routeGeminiEmbed       routeName = "gemini.embedContent"
	routeGeminiBatchEmbed  routeName = "gemini.batchEmbedContents"
	routeGeminiCountTokens routeName = "gemini.countTokens"
)

// geminiEndpoints are the Gemini API's paths, under /v1beta (or /v1,
// /v1alpha).
var geminiEndpoints = []endpoint{
	{method: "POST", pattern: "/models/{model}:generateContent", name: routeGeminiGenerate, max: "maxOutputTokens"},
	{method: "POST", pattern: "/models/{model}:streamGenerateContent", name: routeGeminiStream, max: "maxOutputTokens", streams: true, events: true},
	{method: "POST", pattern: "/models/{model}:embedContent", name: routeGeminiEmbed, embeds: true},
	{method: "POST", pattern: "/models/{model}:batchEmbedContents", name: routeGeminiBatchEmbed, embeds: true},
	{method: "POST", pattern: "/models/{model}:countTokens", name: routeGeminiCountTokens, free: true},
	{method: "GET", pattern: "/models"},
	{method: "GET", pattern: "/models/{model}"},
}

// geminiInfo is Gemini's format as data. Its endpoints are listed under
// v1beta; v1 and v1alpha are served too. streamGenerateContent answers
// in server-sent events with alt=sse, else in one JSON array. Gemini
// answers a bad key with 400 API_KEY_INVALID. A quota or rate limit
// (RESOURCE_EXHAUSTED) is not billing, whatever its text says; the
// billing words are Google's.
var geminiInfo = dialectInfo{
	name:        dialectGemini,
	provider:    "gemini",
	endpoints:   geminiEndpoints,
	versions:    []string{"v1beta", "v1", "v1alpha"},
	baseURLHint: "Gemini SDKs take the bare address as base URL (GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:4020)",
	sseParam:    [2]string{"alt", "sse"},
	sdkHeaders:  []string{"X-Goog-Api-Key"},
	keyHeaders:  []string{"X-Goog-Api-Key"},
	keyParams:   []string{"key"},
	keyHeader:   "X-Goog-Api-Key",
	keyCheck:    "/v1beta/models?pageSize=1",
	keyRefused:  []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusBadRequest},

	limitStatuses: []string{"RESOURCE_EXHAUSTED"},
	billingWords: []string{"billing account", "billing is not enabled", "billing to be enabled",
		"billing_disabled", "billing has not been enabled"},
	conversation: []string{"contents"},
	textMembers:  []string{"parts", "text"},

	requestIDHeaders: []string{"X-Goog-Request-Id"},
	output:           shownSpec{member: "candidates", skip: map[string]bool{"role": true, "finishReason": true, "thoughtSignature": true, "index": true}},
}

func (geminiDialect) info() *dialectInfo { return &geminiInfo }

// claim takes /v1beta and /v1alpha, /v1/models/{model}:{method} (current
// @google/genai calls the v1 form by default), and listing models when
// the headers are a Gemini SDK's.
func (d geminiDialect) claim(method, path string, h http.Header) (string, bool, bool) {
	first, rest, _ := cutSegment(path)
	switch {
	case d.owns(path):
		return geminiInfo.provider, false, true
	case first == "v1" && method == http.MethodGet && (rest == "/models" || strings.HasPrefix(rest, "/models/")) && geminiInfo.fromSDK(h):
		return geminiInfo.provider, false, true
	}
	return "", false, false
}

func (geminiDialect) owns(path string) bool {
	first, rest, _ := cutSegment(path)
	return first == "v1beta" || first == "v1alpha" ||
		first == "v1" && strings.HasPrefix(rest, "/models/") && strings.Contains(rest, ":")
}

// inspect reads generationConfig.maxOutputTokens and
// thinkingConfig.thinkingBudget (Gemini counts thoughts against
// maxOutputTokens, but its documentation has said otherwise, so the
// larger is taken) and candidateCount; the model is in the path. Cached
// content and built-in tools draw input from outside the body.
func (geminiDialect) inspect(rt route, obj jsonObject) (info requestInfo, s inputScan) {
	info.Stream = rt.Stream
	gc := obj.first("generationConfig", "generation_config")
	info.MaxOutput = max(protoCount(gc.first("maxOutputTokens", "max_output_tokens")),
		protoCount(gc.first("thinkingConfig", "thinking_config").first("thinkingBudget", "thinking_budget")))
	info.Choices = protoCount(gc.first("candidateCount", "candidate_count"))

	if v := obj.first("cachedContent", "cached_content"); !v.null() && string(v) != `""` {
		s.unbound()
	}
	obj.get("tools").elems(func(t jsonValue) {
		t.keys(func(k []byte) {
			if string(k) != "functionDeclarations" && string(k) != "function_declarations" {
				s.unbound() // googleSearch, codeExecution, urlContext...
			}
		})
	})
	return info, s
}

// imageTokens: Gemini bills 258 tokens per 768-pixel tile (or a fixed 280
// to 1,120 by media resolution on newer models); 16,400 covers 63 tiles.
func (geminiDialect) imageTokens(string) int64 { return 16_400 }

// geminiAudioPart is an audio part of a request body, matched as JSON
// structure.
var geminiAudioPart = regexp.MustCompile(`"mime_?[tT]ype"\s*:\s*"audio/`)

// geminiFeeMembers are what Gemini's fees beyond tokens show in: an
// audio part's MIME type, the output modalities and the tools (Google
// Search).
var geminiFeeMembers = [][]byte{[]byte(`"audio/`), []byte(`odalities"`), []byte(`"tools"`)}

func (geminiDialect) billing(body []byte, outBound int64) billing {
	var b billing
	top, ok := feeMembers(body, geminiFeeMembers)
	if !ok {
		return b
	}
	b.audioIn = bytes.Contains(body, []byte(`"audio/`)) && geminiAudioPart.Match(body)
	gc := top["generationConfig"]
	if gc == nil {
		gc = top["generation_config"]
	}
	var cfg map[string]json.RawMessage
	_ = json.Unmarshal(gc, &cfg)
	mods := cfg["responseModalities"]
	if mods == nil {
		mods = cfg["response_modalities"]
	}
	var ms []string
	_ = json.Unmarshal(mods, &ms)
	for _, m := range ms {
		switch strings.ToUpper(m) {
		case "AUDIO":
			b.audioOut = true
		case "IMAGE":
			b.imageOut = true
		}
	}
	for _, t := range objects(top["tools"]) {
		for k := range t {
			switch k {
			case "googleSearch", "google_search", "googleSearchRetrieval", "google_search_retrieval":
				b.webSearch = searchBound(0, outBound)
			}
		}
	}
	return b
}

func (geminiDialect) prepare(rt route, info requestInfo, body []byte) ([]byte, bool) {
	return body, false
}

// usage reads a generateContent answer, or a streamGenerateContent one
// read without alt=sse (a JSON array of responses); counting tokens is
// free, and embeddings report no usage (the caller charges its
// estimate).
func (geminiDialect) usage(rt route, body []byte) (Usage, string, bool) {
	var rs []geminiResponse
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '[' {
		if !decodeJSON(body, &rs) {
			return Usage{}, "", false
		}
	} else {
		var r geminiResponse
		if !decodeMembers(body, &r) || !isObject(body) {
			return Usage{}, "", false
		}
		rs = []geminiResponse{r}
	}
	if rt.Free {
		return Usage{}, "", true
	}
	var c geminiCounts
	var model string
	for i := range rs {
		c.merge(rs[i].UsageMetadata)
		c.grounding(rs[i].Candidates)
		if rs[i].ModelVersion != "" {
			model = rs[i].ModelVersion
		}
	}
	return c.usage(), model, c.seen
}

// geminiMeter is a Gemini stream's state: its counts so far.
type geminiMeter struct {
	counts geminiCounts
}

func (geminiDialect) meter(route) eventMeter { return &geminiMeter{} }

// cutEvent: google-genai raises on a chunk that is an {"error":...}
// object. Gemini frames its events with CRLF.
func (geminiDialect) cutEvent(rt route, kind errKind, message string, seq int64) []byte {
	code, status := geminiCutStatus(kind)
	v := struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}{}
	v.Error.Code, v.Error.Message, v.Error.Status = code, message, status
	var b bytes.Buffer
	b.WriteString("data: ")
	b.Write(mustJSON(v))
	b.WriteString("\r\n\r\n")
	return b.Bytes()
}

// geminiCutStatus returns the HTTP code and google.rpc status for kind;
// a google.rpc status of Gemini's own is used as it is.
func geminiCutStatus(kind errKind) (int, string) {
	switch kind {
	case kindBudget, kindUnpriced:
		return 402, "FAILED_PRECONDITION"
	case kindUpstream:
		return 502, "UNAVAILABLE"
	case kindTimeout:
		return 504, "DEADLINE_EXCEEDED"
	}
	switch s := string(kind); s {
	case "", "INTERNAL", "UNKNOWN", "DATA_LOSS":
		return 500, "INTERNAL"
	case "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE":
		return 400, s
	case "UNAUTHENTICATED":
		return 401, s
	case "PERMISSION_DENIED":
		return 403, s
	case "NOT_FOUND":
		return 404, s
	case "ABORTED", "ALREADY_EXISTS":
		return 409, s
	case "RESOURCE_EXHAUSTED":
		return 429, s
	case "CANCELLED":
		return 499, s
	case "NOT_IMPLEMENTED", "UNIMPLEMENTED":
		return 501, s
	case "UNAVAILABLE":
		return 503, s
	case "DEADLINE_EXCEEDED":
		return 504, s
	default:
		return 500, s
	}
}

func (geminiDialect) errorBody(status int, kind errKind, msg string) []byte {
	return mustJSON(map[string]any{"error": map[string]any{"code": status, "message": msg, "status": geminiStatus(status)}})
}

// geminiStatus is the google.rpc status Gemini answers status with.
func geminiStatus(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusPaymentRequired:
		// What Gemini itself answers when billing stops a project.
		return "FAILED_PRECONDITION"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	}
	return "INTERNAL"
}

// promptRequest is a generateContent request (streamGenerateContent with
// alt=sse for a stream).
func (geminiDialect) promptRequest(prov Provider, model string, pr Prompt, system, user string, stream bool) (string, string, http.Header, map[string]any) {
	m := strings.TrimPrefix(model, "models/")
	verb, query := "generateContent", ""
	if stream {
		verb, query = "streamGenerateContent", "alt=sse"
	}
	req := map[string]any{"contents": []map[string]any{{"role": "user", "parts": []map[string]string{{"text": user}}}}}
	if system != "" {
		req["systemInstruction"] = map[string]any{"parts": []map[string]string{{"text": system}}}
	}
	gc := map[string]any{}
	if pr.MaxTokens > 0 {
		gc["maxOutputTokens"] = pr.MaxTokens
	}
	if pr.Temperature != nil {
		gc["temperature"] = *pr.Temperature
	}
	if len(pr.Schema) > 0 {
		gc["responseMimeType"] = "application/json"
		gc["responseJsonSchema"] = json.RawMessage(pr.Schema)
	}
	if len(gc) > 0 {
		req["generationConfig"] = gc
	}
	return "/v1beta/models/" + url.PathEscape(m) + ":" + verb, query, http.Header{}, req
}

func (geminiDialect) outputText(body []byte) (string, error) {
	var doc geminiAnswer
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("the provider's answer is not JSON: %v", err)
	}
	text, ok := doc.text()
	if !ok {
		why := "no candidates"
		if doc.PromptFeedback.BlockReason != "" {
			why = "the prompt was blocked: " + doc.PromptFeedback.BlockReason
		} else if len(doc.Candidates) > 0 {
			why = "finish reason " + doc.Candidates[0].FinishReason
		}
		return "", errors.New("the model answered with no text (" + why + ")")
	}
	return text, nil
}

func (geminiDialect) deltaText(ev streamEvent) string {
	var g geminiAnswer
	if json.Unmarshal(ev.Data, &g) == nil {
		s, _ := g.text()
		return s
	}
	return ""
}

// geminiAnswer is a generateContent answer or stream chunk, as far as
// its text goes.
type geminiAnswer struct {
	Candidates []struct {
		Content struct {
			Parts []struct {
				Text    string `json:"text"`
				Thought bool   `json:"thought"`
			} `json:"parts"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
	} `json:"candidates"`
	PromptFeedback struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
}

func (g geminiAnswer) text() (string, bool) {
	if len(g.Candidates) == 0 {
		return "", false
	}
	var b strings.Builder
	found := false
	for _, p := range g.Candidates[0].Content.Parts {
		if !p.Thought {
			b.WriteString(p.Text)
			found = found || p.Text != ""
		}
	}
	return b.String(), found
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

// event notes one GenerateContentResponse of a Gemini stream.
func (g *geminiMeter) event(m *streamMeter, ev streamEvent) []byte {
	var r geminiResponse
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
	g.counts.grounding(r.Candidates)
	if r.UsageMetadata != nil {
		g.counts.merge(r.UsageMetadata)
	}
	if g.counts.seen {
		m.Usage = g.counts.usage()
	}
	return ev.Raw
}

// part notes Gemini's inline and file data parts:
// {"inlineData":{"mimeType":...,"data":base64}} and
// {"fileData":{"mimeType":...,"fileUri":...}}. Gemini parts have no type.
func (geminiDialect) part(_ []byte, m jsonObject, s *inputScan) {
	for _, k := range [...]string{"inlineData", "inline_data", "fileData", "file_data"} {
		d := m.get(k)
		if !d.isObject() {
			continue
		}
		if k == "inlineData" || k == "inline_data" {
			s.dropString(d.get("data"))
		}
		mime, _ := d.first("mimeType", "mime_type").text()
		if hasLowerPrefix(mime, "image/") {
			s.images++
		} else {
			s.unbound()
		}
	}
}

// geminiError reads an error member, a google.rpc status: {"code": 429,
// "message", "status": "RESOURCE_EXHAUSTED"}.
func geminiError(raw json.RawMessage) apiError {
	var e struct {
		Code    json.RawMessage `json:"code"`
		Status  string          `json:"status"`
		Message string          `json:"message"`
	}
	if !decodeJSON(raw, &e) {
		return apiError{}
	}
	return apiError{Code: jsonString(e.Code), Status: e.Status, Message: e.Message}
}

func (geminiDialect) errorOf(body []byte) (apiError, bool) {
	raw, ok := objectMember(body, "error")
	if !ok {
		return apiError{}, false
	}
	return geminiError(raw), true
}
