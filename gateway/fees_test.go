package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestInspectBilling(t *testing.T) {
	tests := []struct {
		name, dialect, body string
		out                 int64
		want                billing
	}{
		{"plain chat", dialectOpenAI, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, 100, billing{}},
		{"openai audio in and out", dialectOpenAI,
			`{"model":"gpt-audio","modalities":["text","audio"],"audio":{"voice":"alloy","format":"wav"},"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}}]}]}`,
			100, billing{audioIn: true, audioOut: true}},
		// Text that mentions audio is not audio.
		{"openai text about audio", dialectOpenAI,
			`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"what does {\"type\": \"input_audio\"} do? and \"mimeType\":\"audio/mp3\"?"}]}`,
			100, billing{}},
		{"openai audio, spaced JSON", dialectOpenAI,
			`{"model": "gpt-audio", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]}`,
			100, billing{audioIn: true}},
		{"gemini text about audio", dialectGemini, `{"contents":[{"parts":[{"text":"is \"mimeType\": \"audio/mp3\" right?"}]}]}`, 100, billing{}},
		{"openai priority", dialectOpenAI, `{"model":"gpt-5","service_tier":"priority","input":"hi"}`, 100, billing{tier: "priority"}},
		// max_tool_calls bounds the built-in tool calls of a response.
		{"responses web search, limited", dialectOpenAI, `{"model":"gpt-5","tools":[{"type":"web_search"}],"max_tool_calls":4,"input":"hi"}`, 1000, billing{webSearch: 4}},
		// Without a limit: one call per ten output tokens, at most 50.
		{"responses web search, no limit", dialectOpenAI, `{"model":"gpt-5","tools":[{"type":"web_search_preview"}],"input":"hi"}`, 200, billing{webSearch: 20}},
		{"responses web search, large output", dialectOpenAI, `{"model":"gpt-5","tools":[{"type":"web_search"}],"input":"hi"}`, 64000, billing{webSearch: maxToolCallsBound}},
		{"responses code interpreter", dialectOpenAI, `{"model":"gpt-5","tools":[{"type":"code_interpreter","container":{"type":"auto"}}],"input":"hi"}`, 100, billing{codeExec: true}},
		{"chat search model", dialectOpenAI, `{"model":"gpt-4o-mini-search-preview","web_search_options":{},"messages":[]}`, 100, billing{webSearch: 1}},
		{"anthropic web search max_uses", dialectAnthropic,
			`{"model":"claude-opus-4-6","max_tokens":1024,"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5}],"messages":[]}`,
			1024, billing{webSearch: 5}},
		{"anthropic fast mode", dialectAnthropic, `{"model":"claude-opus-4-6","max_tokens":1024,"speed":"fast","messages":[]}`, 1024, billing{speed: "fast"}},
		{"anthropic code execution and geo", dialectAnthropic,
			`{"model":"claude-opus-4-6","max_tokens":1024,"inference_geo":"us","tools":[{"type":"code_execution_20250825","name":"code_execution"}],"messages":[]}`,
			1024, billing{codeExec: true, geo: "us"}},
		{"gemini audio in, audio out, search", dialectGemini,
			`{"contents":[{"parts":[{"inlineData":{"mimeType":"audio/mp3","data":"AAAA"}}]}],"generationConfig":{"responseModalities":["AUDIO"]},"tools":[{"googleSearch":{}}]}`,
			100, billing{audioIn: true, audioOut: true, webSearch: 10}},
		{"gemini image out", dialectGemini, `{"contents":[],"generation_config":{"response_modalities":["TEXT","IMAGE"]}}`, 100, billing{imageOut: true}},
	}
	for _, tt := range tests {
		if got := inspectBilling(dialectByName(tt.dialect), []byte(tt.body), tt.out); got != tt.want {
			t.Errorf("%s: inspectBilling = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// inspectBilling is the billing of a request body (one JSON object) of
// dialect d whose output is bounded by outBound tokens, read from the
// walk inspectRequest makes.
func inspectBilling(d dialect, body []byte, outBound int64) billing {
	w := walks.Get().(*bodyWalk)
	defer w.release()
	w.object(body, spaceEnd(body, 0), 0)
	return d.billing(feeInput{top: jsonObject(w.ms), marks: w.marks, body: body}, outBound)
}

// walkedTop is the top-level members of body that a walk reads
// (feeInput.top), the last of duplicates, as a map; nil for a body that
// the walk finds is not one JSON object.
func walkedTop(body []byte) map[string]json.RawMessage {
	i := spaceEnd(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil
	}
	w := walks.Get().(*bodyWalk)
	defer w.release()
	if end := w.object(body, i, 0); end < 0 || spaceEnd(body, end) != len(body) {
		return nil
	}
	top := make(map[string]json.RawMessage)
	for _, m := range w.ms {
		top[string(m.name)] = json.RawMessage(m.val)
	}
	return top
}

// The walk takes a body nested as deep as encoding/json does, and no
// deeper.
func TestWalkNestingLimit(t *testing.T) {
	for _, depth := range []int{maxScanDepth - 1, maxScanDepth, maxScanDepth + 1} {
		for _, open := range []string{"[", `{"a":`} {
			close := map[string]string{"[": "]", `{"a":`: "}"}[open]
			// depth values nested, the outermost the body's object.
			body := `{"a":` + strings.Repeat(open, depth-1) + "1" + strings.Repeat(close, depth-1) + "}"
			got := walkedTop([]byte(body)) != nil
			if want := json.Valid([]byte(body)); got != want {
				t.Errorf("walk of %d nested %q: read %v, json.Valid %v", depth, open, got, want)
			}
		}
	}
}

// refBilling is billing as it was read before the walk fed it: the body
// searched for each format's fee members and audio parts as bytes and
// regular expressions, and its top-level members decoded by
// encoding/json.
func refBilling(d dialect, body []byte, outBound int64) billing {
	var b billing
	var top map[string]json.RawMessage
	decoded := func(needles ...string) bool {
		for _, n := range needles {
			if bytes.Contains(body, []byte(n)) {
				return json.Unmarshal(body, &top) == nil
			}
		}
		return false
	}
	switch d.info().name {
	case dialectOpenAI:
		if !decoded(`"input_audio"`, `"modalities"`, `"service_tier"`, `"tools"`, `"web_search_options"`) {
			return b
		}
		b.audioIn = regexp.MustCompile(`:\s*"input_audio"`).Match(body)
		var ms []string
		_ = json.Unmarshal(top["modalities"], &ms)
		for _, m := range ms {
			if m == "audio" {
				b.audioOut = true
			}
		}
		b.tier = jsonStr(top["service_tier"])
		var maxCalls tokens
		_ = json.Unmarshal(top["max_tool_calls"], &maxCalls)
		var tools []map[string]json.RawMessage
		_ = json.Unmarshal(top["tools"], &tools)
		for _, t := range tools {
			switch typ := jsonStr(t["type"]); {
			case strings.HasPrefix(typ, "web_search"):
				b.webSearch = searchBound(int64(maxCalls), outBound)
			case typ == "code_interpreter":
				b.codeExec = true
			}
		}
		if _, ok := top["web_search_options"]; ok && b.webSearch == 0 {
			b.webSearch = 1
		}
	case dialectAnthropic:
		if !decoded(`"inference_geo"`, `"speed"`, `"tools"`) {
			return b
		}
		b.geo = jsonStr(top["inference_geo"])
		b.speed = jsonStr(top["speed"])
		var tools []map[string]json.RawMessage
		_ = json.Unmarshal(top["tools"], &tools)
		for _, t := range tools {
			typ := jsonStr(t["type"])
			switch {
			case strings.HasPrefix(typ, "web_search_"):
				var maxUses tokens
				_ = json.Unmarshal(t["max_uses"], &maxUses)
				b.webSearch += searchBound(int64(maxUses), outBound)
			case strings.HasPrefix(typ, "code_execution_"):
				b.codeExec = true
			}
		}
	case dialectGemini:
		if !decoded(`"audio/`, `odalities"`, `"tools"`) {
			return b
		}
		b.audioIn = regexp.MustCompile(`"mime_?[tT]ype"\s*:\s*"audio/`).Match(body)
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
		var tools []map[string]json.RawMessage
		_ = json.Unmarshal(top["tools"], &tools)
		for _, t := range tools {
			for k := range t {
				switch k {
				case "googleSearch", "google_search", "googleSearchRetrieval", "google_search_retrieval":
					b.webSearch = searchBound(0, outBound)
				}
			}
		}
	default:
		panic("no reference billing for " + d.info().name)
	}
	return b
}

// Billing read from the walk is billing as the byte searches read it, on
// every recorded payload and every body of TestInspectBilling, in every
// built-in format. (The one difference: a fee member whose name the body
// spells with escapes, which the searches missed and a provider decodes,
// is read now; TestBillingEscapedNames.)
func TestBillingMatchesSearch(t *testing.T) {
	bodies := scanCorpus(t)
	for _, s := range billingBodies {
		bodies = append(bodies, []byte(s))
	}
	n := 0
	for _, body := range bodies {
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) != nil || m == nil {
			continue
		}
		n++
		for _, name := range []string{dialectOpenAI, dialectAnthropic, dialectGemini} {
			d := dialectByName(name)
			for _, out := range []int64{0, 100, 4096} {
				if got, want := inspectBilling(d, body, out), refBilling(d, body, out); got != want {
					t.Errorf("%s billing(%.200q, %d) = %+v, want %+v", name, body, out, got, want)
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d bodies compared", n)
	}
}

// billingBodies are bodies with fees and audio in odd places, for
// TestBillingMatchesSearch.
var billingBodies = []string{
	`{"model":"m","tools":null,"service_tier":null,"modalities":null}`,
	`{"model":"m","web_search_options":null}`,
	`{"model":"m","web_search_options":{}, "tools":[{"type":"web_search"}],"max_tool_calls":3}`,
	`{"tools":[1,"x",{"type":"code_interpreter"},{"type":"web_search_preview"}],"max_tool_calls":"7"}`,
	`{"tools":[{"type":"web_search"}],"tools":[]}`,
	`{"service_tier":"flex","service_tier":"priority","modalities":["audio"],"modalities":["text"]}`,
	`{"messages":[{"content":[{"type" : "input_audio","input_audio":{"data":"QUJD"}}]}]}`,
	`{"messages":[{"content":[{"format":"input_audio"}]}]}`,
	`{"messages":[{"content":["input_audio",{"input_audio":"x"}]}]}`,
	`{"messages":[{"content":"{\"type\":\"input_audio\"}"}]}`,
	`{"x":"input_audio\u0022","y":"\"input_audio\""}`,
	`{"contents":[{"parts":[{"inline_data":{"mime_type":"audio/wav","data":"AA"}}]}]}`,
	`{"contents":[{"parts":[{"fileData":{"mimetype" :  "audio/ogg"}}]}]}`,
	`{"contents":[{"parts":[{"fileData":{"type":"audio/ogg","mime":"audio/x"}}]}]}`,
	`{"contents":[{"parts":[{"fileData":{"x\"mime_type":"audio/ogg"}}]}]}`,
	`{"contents":[],"generationConfig":{"maxOutputTokens":10}}`,
	`{"contents":[],"generationConfig":null,"generation_config":{"response_modalities":["AUDIO"]}}`,
	`{"contents":[],"generationConfig":{"responseModalities":["image"],"responseModalities":["TEXT"]}}`,
	`{"contents":[],"generation_config":{"responseModalities":null,"response_modalities":["IMAGE"]}}`,
	`{"contents":[],"tools":[{"google_search_retrieval":{}},{"codeExecution":{}}]}`,
	`{"inference_geo":"eu","speed":"fast","tools":[{"type":"web_search_20250305","max_uses":2},{"type":"web_search_20250305"},{"type":"code_execution_20250825"}]}`,
	`{"inference_geo":7,"speed":null}`,
}

// A fee member named with escapes is the member a provider decodes: read
// as such.
func TestBillingEscapedNames(t *testing.T) {
	for _, tt := range []struct {
		dialect, body string
		want          billing
	}{
		{dialectOpenAI, `{"model":"gpt-5","tool\u0073":[{"type":"web_search"}],"max_tool_calls":2,"input":"hi"}`, billing{webSearch: 2}},
		{dialectOpenAI, `{"model":"gpt-5","service\u005ftier":"priority","input":"hi"}`, billing{tier: "priority"}},
		{dialectAnthropic, `{"model":"claude-opus-4-6","sp\u0065ed":"fast","messages":[]}`, billing{speed: "fast"}},
		{dialectGemini, `{"contents":[],"generationConfig":{"responseM\u006fdalities":["AUDIO"]}}`, billing{audioOut: true}},
	} {
		if got := inspectBilling(dialectByName(tt.dialect), []byte(tt.body), 100); got != tt.want {
			t.Errorf("%s billing(%s) = %+v, want %+v", tt.dialect, tt.body, got, tt.want)
		}
	}
}

func TestWorstCostHighestRate(t *testing.T) {
	table := DefaultPrices()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	row := func(prov, model string) Price {
		t.Helper()
		p, ok := table.Lookup(prov, model)
		if !ok {
			t.Fatalf("no price for %s/%s", prov, model)
		}
		return p
	}
	rt := route{Name: "openai.chat"}
	info := requestInfo{InputBound: 1000, MaxOutput: 100, Choices: 1}

	// Audio in the body: every input token at gpt-audio's audio rate (32
	// per M, not 2.5); audio asked for out: every output token at 64.
	audio := row("openai", "gpt-audio")
	got, _ := worstCost(&audio, now, &info, &billing{audioIn: true, audioOut: true}, &rt)
	if want := 1000*perMillion(32) + 100*perMillion(64); got != want {
		t.Errorf("worstCost(gpt-audio, audio in and out) = %s, want %s", got, want)
	}
	text, _ := worstCost(&audio, now, &info, &billing{}, &rt)
	if want := 1000*perMillion(2.5) + 100*perMillion(10); text != want {
		t.Errorf("worstCost(gpt-audio, text) = %s, want %s", text, want)
	}

	// A bound that crosses 200k input tokens: every token at the tier.
	pro := row("gemini", "gemini-2.5-pro")
	long := requestInfo{InputBound: 250_000, MaxOutput: 1000, Choices: 1}
	got, _ = worstCost(&pro, now, &long, &billing{audioIn: true}, &route{Name: "gemini.generateContent"})
	if want := 250_000*perMillion(2.5) + 1000*perMillion(15); got != want {
		t.Errorf("worstCost(gemini-2.5-pro, 250k in) = %s, want %s (the long-context tier)", got, want)
	}

	// Priority asked for: priority rates.
	mini := row("openai", "gpt-4o-mini")
	got, _ = worstCost(&mini, now, &info, &billing{tier: "priority"}, &rt)
	if want := 1000*perMillion(0.25) + 100*perMillion(1); got != want {
		t.Errorf("worstCost(gpt-4o-mini, priority) = %s, want %s", got, want)
	}

	// Five searches at most, $0.01 each, on top of the tokens; US-only
	// inference at 1.1 times.
	opus := row("anthropic", "claude-opus-4-6")
	arInfo := requestInfo{InputBound: 1000, MaxOutput: 100, Choices: 1}
	got, _ = worstCost(&opus, now, &arInfo, &billing{webSearch: 5, geo: "us"}, &route{Name: "anthropic.messages"})
	// The dearest input rate is the one-hour cache write: 10 per M, ×1.1.
	if want := 1000*perMillion(11) + 100*perMillion(27.5) + 5*Dollar/100; got != want {
		t.Errorf("worstCost(claude-opus-4-6, 5 searches, us) = %s, want %s", got, want)
	}

	// DeepSeek off-peak: the hold takes the dearer side of the window,
	// whatever the time.
	ds := row("deepseek", "deepseek-chat")
	offPeak := time.Date(2026, 11, 30, 20, 0, 0, 0, time.UTC)
	got, _ = worstCost(&ds, offPeak, &info, &billing{}, &rt)
	if want := 1000*perMillion(0.27) + 100*perMillion(1.1); got != want {
		t.Errorf("worstCost(deepseek-chat, off-peak) = %s, want %s (the standard rate)", got, want)
	}
}

func TestPriceAtDatesAndWindows(t *testing.T) {
	p := Price{Provider: "x", Model: "m", Input: perMillion(3), Output: perMillion(15),
		Earlier: []DatedRates{
			{Until: "2026-01-01", Rates: Rates{Input: perMillion(1), Output: perMillion(5)}},
			{Until: "2026-09-01", Rates: Rates{Input: perMillion(2), Output: perMillion(10)}},
		},
		Windows: []WindowRates{{From: "16:30", To: "00:30", Name: "off-peak", Rates: Rates{Input: perMillion(0.5), Output: perMillion(2)}}},
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at          time.Time
		in, out     Money
		appliedPart string
	}{
		{time.Date(2025, 12, 31, 12, 0, 0, 0, time.UTC), perMillion(1), perMillion(5), "until 2026-01-01"},
		{time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), perMillion(2), perMillion(10), "until 2026-09-01"},
		// 2026-08-31 16:00 UTC is 2026-09-01 01:00 in Tokyo: the new
		// price, from the user's midnight.
		{time.Date(2026, 8, 31, 16, 0, 0, 0, time.UTC).In(tokyo), perMillion(3), perMillion(15), ""},
		{time.Date(2026, 8, 31, 16, 0, 0, 0, time.UTC), perMillion(2), perMillion(10), "until 2026-09-01"},
		// The window is in UTC whatever the user's zone.
		{time.Date(2026, 10, 1, 17, 0, 0, 0, time.UTC).In(tokyo), perMillion(0.5), perMillion(2), "off-peak"},
		{time.Date(2026, 10, 1, 0, 29, 0, 0, time.UTC), perMillion(0.5), perMillion(2), "off-peak"},
		{time.Date(2026, 10, 1, 0, 30, 0, 0, time.UTC), perMillion(3), perMillion(15), ""},
	}
	for _, tt := range tests {
		got := p.At(tt.at)
		if got.Input != tt.in || got.Output != tt.out || !strings.Contains(got.Applied, tt.appliedPart) || (tt.appliedPart == "") != (got.Applied == "") {
			t.Errorf("At(%s) = in %s out %s (%q), want in %s out %s (%q)", tt.at, got.Input, got.Output, got.Applied, tt.in, tt.out, tt.appliedPart)
		}
		if len(got.Earlier) != 0 || len(got.Windows) != 0 {
			t.Errorf("At(%s) kept its alternatives", tt.at)
		}
	}
}

func TestCostTiersRegionsAndUnknownKinds(t *testing.T) {
	p := Price{Input: perMillion(2), Output: perMillion(8), CachedInput: perMillion(0.5),
		ServiceTiers: []ServiceTier{{Name: "flex", Rates: Rates{Input: perMillion(1), Output: perMillion(4)}}},
		Regions:      []Region{{Name: "us", Multiplier: "1.1"}},
	}
	tests := []struct {
		name    string
		u       Usage
		want    Money
		unknown []string
	}{
		// flex lists no cached rate: the cached tokens are unpriced,
		// not charged at the standard cached rate.
		{"flex", Usage{InputTokens: 1000, CachedInputTokens: 400, OutputTokens: 10, ServiceTier: "flex"},
			600*perMillion(1) + 10*perMillion(4), []string{"cached_input"}},
		{"standard spelled out", Usage{InputTokens: 1000, OutputTokens: 10, ServiceTier: "default"}, 1000*perMillion(2) + 10*perMillion(8), nil},
		{"unknown tier", Usage{InputTokens: 1000, OutputTokens: 10, ServiceTier: "scale"}, 1000*perMillion(2) + 10*perMillion(8), []string{"service_tier"}},
		{"region", Usage{InputTokens: 1000, OutputTokens: 10, InferenceGeo: "us"}, 1000*perMillion(2.2) + 10*perMillion(8.8), nil},
		{"unknown region", Usage{InputTokens: 1000, OutputTokens: 10, InferenceGeo: "eu"}, 1000*perMillion(2) + 10*perMillion(8), []string{"region"}},
		{"global", Usage{InputTokens: 1000, OutputTokens: 10, InferenceGeo: "global"}, 1000*perMillion(2) + 10*perMillion(8), nil},
		// Audio without an audio rate is never charged as text.
		{"audio in", Usage{InputTokens: 1000, InputAudioTokens: 900, OutputTokens: 10}, 100*perMillion(2) + 10*perMillion(8), []string{"input (audio)"}},
		{"image and video in at the input rate", Usage{InputTokens: 1000, InputImageTokens: 300, InputVideoTokens: 600}, 1000 * perMillion(2), nil},
		{"audio out", Usage{InputTokens: 10, OutputTokens: 100, OutputAudioTokens: 90}, 10*perMillion(2) + 10*perMillion(8), []string{"output (audio)"}},
		{"web search without a fee", Usage{InputTokens: 10, WebSearchCalls: 2}, 10 * perMillion(2), []string{"web_search"}},
		{"code execution", Usage{InputTokens: 10, CodeExecutionCalls: 1}, 10 * perMillion(2), []string{"code_execution"}},
		{"web fetch is free", Usage{InputTokens: 10, WebFetchCalls: 3}, 10 * perMillion(2), nil},
		{"fast mode", Usage{InputTokens: 10, Speed: "fast"}, 10 * perMillion(2), []string{"speed"}},
		{"standard speed", Usage{InputTokens: 10, Speed: "standard"}, 10 * perMillion(2), nil},
	}
	for _, tt := range tests {
		got := p.Cost(tt.u)
		unknown := p.Unpriced(tt.u)
		ok := got == tt.want && len(unknown) == len(tt.unknown)
		for i := range tt.unknown {
			ok = ok && i < len(unknown) && strings.HasPrefix(unknown[i], tt.unknown[i])
		}
		if !ok {
			t.Errorf("%s: Cost = %s, Unpriced = %q; want %s, %q", tt.name, got, unknown, tt.want, tt.unknown)
		}
	}
}

// anthropicFeeUpstream answers Messages requests with a recorded-shape
// answer that used two web searches and ran code once.
func anthropicFeeUpstream(t *testing.T, seen *upstreamSeen) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen.add(r, b)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Request-Id", "req_fee")
		content := `[{"type":"text","text":"ok"}]`
		if strings.Contains(string(b), "code_execution") {
			content = `[{"type":"server_tool_use","id":"srvtoolu_1","name":"code_execution","input":{"code":"print(1)"}},{"type":"code_execution_tool_result","tool_use_id":"srvtoolu_1","content":{"type":"code_execution_result","stdout":"1\n","stderr":"","return_code":0}},{"type":"text","text":"1"}]`
		}
		io.WriteString(w, `{"id":"msg_fee","type":"message","role":"assistant","model":"claude-opus-4-6","content":`+content+`,"stop_reason":"end_turn","usage":{"input_tokens":1000,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":100,"server_tool_use":{"web_search_requests":2,"web_fetch_requests":0},"service_tier":"standard","inference_geo":"global"}}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestProxyToolFees: server-side web searches are held for by the
// request's max_uses, charged by the count the provider reports, and
// shown in the arithmetic.
func TestProxyToolFees(t *testing.T) {
	seen := &upstreamSeen{}
	up := anthropicFeeUpstream(t, seen)
	l := &memLedger{}
	_, srv := newTestProxy(t, l, map[string]string{"anthropic": up.URL})
	resp, body := post(t, srv.URL+"/v1/messages", map[string]string{"X-Api-Key": testToken},
		`{"model":"claude-opus-4-6","max_tokens":100,"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":3}],"messages":[{"role":"user","content":"news?"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("POST /v1/messages = %d %s", resp.StatusCode, body)
	}
	recs, _ := l.all()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	r := recs[0]
	tokens := 1000*perMillion(5) + 100*perMillion(25)
	if want := tokens + 2*Dollar/100; r.Cost != want || r.WebSearchCalls != 2 || len(r.Unpriced) != 0 {
		t.Errorf("record cost %s, searches %d, unpriced %q; want %s for the tokens and two $0.01 searches", r.Cost, r.WebSearchCalls, r.Unpriced, want)
	}
	if r.Held < tokens+3*Dollar/100 {
		t.Errorf("held %s, want at least the tokens and three searches (max_uses), %s", r.Held, tokens+3*Dollar/100)
	}
	var line *CostLine
	lines := r.Rates.Explain(r.Usage)
	for i := range lines {
		if lines[i].Kind == CostWebSearch {
			line = &lines[i]
		}
	}
	if line == nil || line.Calls != 2 || line.PerCall != "0.01" || line.Amount != 2*Dollar/100 {
		t.Errorf("arithmetic = %+v, want a web_search line of 2 calls at 0.01", lines)
	}
}

// TestProxyPartiallyPriced: a fee the table does not know (Anthropic
// code execution) falls under the unpriced-model policy: refused under a
// budget by default, held and charged at the estimate otherwise, and the
// record says which part had no price.
func TestProxyPartiallyPriced(t *testing.T) {
	req := `{"model":"claude-opus-4-6","max_tokens":100,"tools":[{"type":"code_execution_20250825","name":"code_execution"}],"messages":[{"role":"user","content":"run it"}]}`
	t.Run("refused under a budget", func(t *testing.T) {
		seen := &upstreamSeen{}
		up := anthropicFeeUpstream(t, seen)
		l := &memLedger{limit: 100 * Dollar}
		p, srv := newTestProxy(t, l, map[string]string{"anthropic": up.URL})
		resp, body := post(t, srv.URL+"/v1/messages", map[string]string{"X-Api-Key": testToken}, req)
		p.Wait()
		if resp.StatusCode != http.StatusPaymentRequired || !strings.Contains(body, "code_execution") {
			t.Fatalf("POST /v1/messages = %d %s, want 402 naming the unpriced part", resp.StatusCode, body)
		}
		checkShape(t, dialectAnthropic, []byte(body))
		if n := seen.count(); n != 0 {
			t.Errorf("upstream saw %d requests, want none", n)
		}
		recs, _ := l.all()
		if len(recs) != 1 || recs[0].Outcome != OutcomeRefused || recs[0].Reason != ReasonUnpriced || len(recs[0].Unpriced) == 0 {
			t.Errorf("records = %+v, want one refusal for reason %q naming the unpriced part", recs, ReasonUnpriced)
		}
	})
	t.Run("estimated", func(t *testing.T) {
		seen := &upstreamSeen{}
		up := anthropicFeeUpstream(t, seen)
		l := &memLedger{limit: 100 * Dollar}
		p, srv := newTestProxy(t, l, map[string]string{"anthropic": up.URL})
		p.SetPolicy(Policy{Unpriced: "estimate", UnpricedHold: 2 * Dollar})
		resp, body := post(t, srv.URL+"/v1/messages", map[string]string{"X-Api-Key": testToken}, req)
		if resp.StatusCode != 200 {
			t.Fatalf("POST /v1/messages = %d %s", resp.StatusCode, body)
		}
		recs, _ := l.all()
		if len(recs) != 1 {
			t.Fatalf("%d records, want 1", len(recs))
		}
		r := recs[0]
		priced := 1000*perMillion(5) + 100*perMillion(25) + 2*Dollar/100
		if r.CodeExecutionCalls != 1 || len(r.Unpriced) != 1 || !strings.HasPrefix(r.Unpriced[0], "code_execution") || !r.Estimated || !r.Priced {
			t.Errorf("record = %+v, want one code execution run, marked partially priced and estimated", r)
		}
		if want := priced + 2*Dollar; r.Cost != want {
			t.Errorf("cost %s, want the priced part %s plus the policy's $2", r.Cost, priced)
		}
		if r.Held < r.Cost {
			t.Errorf("held %s < cost %s", r.Held, r.Cost)
		}
	})
}
