package gateway

import "testing"

func TestShownBytes(t *testing.T) {
	for _, tt := range []struct {
		d    dialect
		data string
		want int64
	}{
		{anthropicDialect{}, `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}`, 5},
		{anthropicDialect{}, `{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}`, 7},
		{anthropicDialect{}, `{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCkYIBBgCIkB"}}`, 0},
		{anthropicDialect{}, `{"type":"message_start","message":{"id":"msg_1","content":[],"usage":{"input_tokens":9}}}`, 0},
		{openAIDialect{}, `{"type":"response.output_text.delta","sequence_number":6,"item_id":"msg_1","output_index":1,"content_index":0,"delta":"Budgets","logprobs":[],"obfuscation":"Fq3k9"}`, 7},
		{openAIDialect{}, `{"type":"response.output_text.done","item_id":"msg_1","text":"Budgets hold"}`, 0},
		{openAIDialect{}, `{"id":"chatcmpl-1","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi there"},"finish_reason":null}]}`, 8},
		{openAIDialect{}, `{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":"{}"}}]}}]}`, 3},
		{geminiDialect{}, `{"candidates":[{"content":{"parts":[{"text":"Bonjour"}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"candidatesTokenCount":2}}`, 7},
		{openAIDialect{}, `[DONE]`, 0},
	} {
		if got := tt.d.info().shown([]byte(tt.data)); got != tt.want {
			t.Errorf("%s.shown(%s) = %d, want %d", tt.d.info().name, tt.data, got, tt.want)
		}
	}
}
