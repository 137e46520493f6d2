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
	output:           shownSpec{member: "candidates", skip: newNameSet("role", "finishReason", "thoughtSignature", "index")},
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
// structure. The walk marks a body that may hold one (markAudioMIME: a
// member value starting "audio/), which is the only body it is matched
// in.
var geminiAudioPart = regexp.MustCompile(`"mime_?[tT]ype"\s*:\s*"audio/`)

// billing reads audio in (an audio part's MIME type), the output
// modalities (generationConfig.responseModalities) and the tools (Google
// Search).
func (geminiDialect) billing(in feeInput, outBound int64) billing {
	var b billing
	top := in.top
	gc := top.get("generationConfig")
	if gc == nil {
		gc = top.get("generation_config")
	}
	mods := gc.get("responseModalities")
	if mods == nil {
		mods = gc.get("response_modalities")
	}
	tools := top.get("tools")
	if mods == nil && tools == nil && in.marks&markAudioMIME == 0 {
		return b
	}
	b.audioIn = in.marks&markAudioMIME != 0 && geminiAudioPart.Match(in.body)
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
	for _, t := range objects(json.RawMessage(tools)) {
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
func (geminiDialect) usage(rt route, body []byte) (Usage, []byte, bool) {
	var c geminiCounts
	var model []byte
	add := func(r *geminiResponse) {
		if r.usageSet {
			c.merge(&r.usage)
		}
		c.grounding(&r.candidates)
		if len(r.modelVersion) > 2 {
			model = r.modelVersion
		}
	}
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '[' {
		if end, err := valueEnd(t, 0); err != nil || end != len(t) {
			return Usage{}, nil, false
		}
		// As encoding/json decodes it into a []geminiResponse: each
		// element afresh, one that is not an object as an empty one.
		scanArray(t, func(e []byte) bool {
			var r geminiResponse
			if e[0] == '{' {
				scanMembers(e, r.read)
			}
			add(&r)
			return true
		})
	} else {
		var r geminiResponse
		if scanObject(body, r.read) != nil {
			return Usage{}, nil, false
		}
		add(&r)
	}
	if rt.Free {
		return Usage{}, nil, true
	}
	if len(model) < 2 {
		model = nil
	}
	return c.usage(), model, c.seen
}

// unquoteOrEmpty is unquote for a raw string that may be absent.
func unquoteOrEmpty(s []byte) string {
	if len(s) < 2 {
		return ""
	}
	return unquote(s)
}

// geminiMeter is a Gemini stream's state: its counts so far, and the
// slots the last event was read into, kept for the next.
type geminiMeter struct {
	counts  geminiCounts
	scratch [5][]int64
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

// geminiUsage is the usageMetadata object of the Gemini API, read as
// encoding/json reads it into a struct of counts (promptTokenCount a
// pointer) and slices of ModalityTokenCounts.
type geminiUsage struct {
	promptTokenCount optTokens // promptTokenCount
	// candidatesTokenCount, cachedContentTokenCount, thoughtsTokenCount,
	// toolUsePromptTokenCount, totalTokenCount.
	counts [5]tokens
	// The counts above by modality (TEXT, IMAGE, VIDEO, AUDIO, DOCUMENT):
	// promptTokensDetails includes cached tokens, cacheTokensDetails
	// splits cachedContentTokenCount, candidatesTokensDetails
	// candidatesTokenCount. A slot holds a modalitySlot.
	promptDetails, cacheDetails, candidatesDetails, toolUseDetails slots
}

var geminiUsageFields = []string{"promptTokenCount", "candidatesTokenCount", "cachedContentTokenCount",
	"thoughtsTokenCount", "toolUsePromptTokenCount", "totalTokenCount",
	"promptTokensDetails", "cacheTokensDetails", "candidatesTokensDetails", "toolUsePromptTokensDetails"}

// read decodes the usageMetadata object val into u, merging into what u
// holds.
func (u *geminiUsage) read(val []byte) {
	members(val, func(key, val []byte) {
		switch i := fieldIndex(key, geminiUsageFields); {
		case i == 0:
			u.promptTokenCount.read(val)
		case i >= 1 && i <= 5:
			u.counts[i-1].read(val)
		case i == 6:
			u.promptDetails.read(val, readModalityCount)
		case i == 7:
			u.cacheDetails.read(val, readModalityCount)
		case i == 8:
			u.candidatesDetails.read(val, readModalityCount)
		case i == 9:
			u.toolUseDetails.read(val, readModalityCount)
		}
	})
}

// A ModalityTokenCount's slot is its modality, as its index in
// geminiModalities plus one (0 for any other), in the low two bits, and
// its tokenCount above them.
const modalityBits = 2

// geminiModalities are the modalities Usage counts apart from text.
var geminiModalities = [3]string{"AUDIO", "IMAGE", "VIDEO"}

var modalityCountFields = []string{"modality", "tokenCount"}

// readModalityCount decodes one ModalityTokenCount into its slot.
func readModalityCount(e []byte, slot *int64) {
	members(e, func(key, val []byte) {
		switch fieldIndex(key, modalityCountFields) {
		case 0:
			if val[0] != '"' {
				return
			}
			t, _ := jsonValue(val).text()
			kind := int64(0)
			for i, m := range geminiModalities {
				if bytes.EqualFold(t, []byte(m)) {
					kind = int64(i) + 1
				}
			}
			*slot = *slot&^(1<<modalityBits-1) | kind
		case 1:
			n := tokens(*slot >> modalityBits)
			n.read(val)
			*slot = *slot&(1<<modalityBits-1) | int64(n)<<modalityBits
		}
	})
}

// byModality returns the counts of ds for each of geminiModalities.
func byModality(ds *slots) [3]int64 {
	var n [3]int64
	ds.each(func(v int64) {
		if kind := v & (1<<modalityBits - 1); kind > 0 {
			n[kind-1] += v >> modalityBits
		}
	})
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
	c.seen = true
	c.prompt = max(c.prompt, u.promptTokenCount.get())
	c.candidates = max(c.candidates, int64(u.counts[0]))
	c.cached = max(c.cached, int64(u.counts[1]))
	c.thoughts = max(c.thoughts, int64(u.counts[2]))
	c.toolUse = max(c.toolUse, int64(u.counts[3]))
	prompt, tool := byModality(&u.promptDetails), byModality(&u.toolUseDetails)
	cache, cand := byModality(&u.cacheDetails), byModality(&u.candidatesDetails)
	for i := range geminiModalities {
		c.promptBy[i] = max(c.promptBy[i], prompt[i]+tool[i])
		c.cacheBy[i] = max(c.cacheBy[i], cache[i])
		c.candidatesBy[i] = max(c.candidatesBy[i], cand[i])
	}
}

// grounding counts the Google Search queries the candidates ran, which
// grounding bills per query (or per request that ran any).
func (c *geminiCounts) grounding(cands *slots) {
	n := int64(0)
	cands.each(func(v int64) { n += v >> 1 })
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
// response), as far as metering reads it. The strings are kept raw, as
// the last string value of their member, and decoded only when used.
type geminiResponse struct {
	// A candidate's slot: 1 when its finishReason is not empty, plus
	// twice the number of its groundingMetadata.webSearchQueries.
	candidates   slots
	blocked      bool // promptFeedback.blockReason is not empty
	usage        geminiUsage
	usageSet     bool
	modelVersion []byte // modelVersion
	responseID   []byte // responseId
	errorRaw     []byte // error, any value
}

var (
	geminiResponseFields  = []string{"candidates", "promptFeedback", "usageMetadata", "modelVersion", "responseId", "error"}
	blockReasonFields     = []string{"blockReason"}
	geminiCandidateFields = []string{"finishReason", "groundingMetadata"}
	webSearchFields       = []string{"webSearchQueries"}
)

// read takes one member of a response; it is scanObject's callback.
func (r *geminiResponse) read(key, val []byte) bool {
	switch fieldIndex(key, geminiResponseFields) {
	case 0:
		r.candidates.read(val, readCandidate)
	case 1:
		// A pointer whose absence reads as no block reason.
		if val[0] == 'n' {
			r.blocked = false
		}
		members(val, func(key, val []byte) {
			if fieldIndex(key, blockReasonFields) == 0 && val[0] == '"' {
				r.blocked = len(val) > 2
			}
		})
	case 2:
		if openPtr(&r.usageSet, &r.usage, val) {
			r.usage.read(val)
		}
	case 3:
		if val[0] == '"' {
			r.modelVersion = val
		}
	case 4:
		if val[0] == '"' {
			r.responseID = val
		}
	case 5:
		r.errorRaw = val
	}
	return true
}

// readCandidate decodes one candidate into its slot.
func readCandidate(e []byte, slot *int64) {
	members(e, func(key, val []byte) {
		switch fieldIndex(key, geminiCandidateFields) {
		case 0:
			if val[0] == '"' {
				*slot = *slot&^1 | int64(b2i(len(val) > 2))
			}
		case 1:
			// A pointer whose absence reads as no queries.
			if val[0] == 'n' {
				*slot &= 1
			}
			members(val, func(key, val []byte) {
				if fieldIndex(key, webSearchFields) != 0 {
					return
				}
				switch val[0] {
				case 'n':
					*slot &= 1
				case '[':
					n := int64(0)
					scanArray(val, func([]byte) bool { n++; return true })
					*slot = *slot&1 | n<<1
				}
			})
		}
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// event notes one GenerateContentResponse of a Gemini stream.
func (g *geminiMeter) event(m *streamMeter, ev streamEvent) []byte {
	var r geminiResponse
	r.candidates.v = g.scratch[0][:0]
	r.usage.promptDetails.v = g.scratch[1][:0]
	r.usage.cacheDetails.v = g.scratch[2][:0]
	r.usage.candidatesDetails.v = g.scratch[3][:0]
	r.usage.toolUseDetails.v = g.scratch[4][:0]
	ok := readEventData(ev.Data, r.read)
	// What the slots grew to serves the next event.
	g.scratch = [5][]int64{r.candidates.v, r.usage.promptDetails.v, r.usage.cacheDetails.v,
		r.usage.candidatesDetails.v, r.usage.toolUseDetails.v}
	if !ok {
		return ev.Raw
	}
	if isPresent(r.errorRaw) {
		m.ErrorMessage = geminiError(r.errorRaw).text()
	}
	if len(r.modelVersion) > 2 {
		setText(&m.Model, r.modelVersion)
	}
	if len(r.responseID) > 2 {
		setText(&m.UpstreamID, r.responseID)
	}
	r.candidates.each(func(v int64) {
		if v&1 != 0 {
			m.Done = true
		}
	})
	if r.blocked {
		m.Done = true // a refused prompt: no candidates will follow
	}
	g.counts.grounding(&r.candidates)
	if r.usageSet {
		g.counts.merge(&r.usage)
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
