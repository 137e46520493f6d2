package e2e

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/gateway"
)

// guardCases are the calls the runaway-guard tests repeat, one per SDK.
var guardCases = []string{"openai/chat", "anthropic/messages", "gemini/generate"}

func sdkCaseNamed(t *testing.T, name string) sdkCase {
	t.Helper()
	for _, c := range sdkCases {
		if c.String() == name {
			return c
		}
	}
	t.Fatalf("no SDK case %s", name)
	return sdkCase{}
}

// checkNoRetry429 checks that the SDK raised its own error for a 429 of
// Sluice's, that the call never reached the upstream, and that the log
// holds exactly one refusal for it with reason: an SDK that retried would
// leave one per attempt.
func checkNoRetry429(t *testing.T, f fakes, s *sluice, seen map[string]bool, c sdkCase, o outcome, before map[string]int, reason, says string) {
	t.Helper()
	if o.OK || o.Error == nil || !o.Error.SDK || o.Error.Status != 429 {
		t.Fatalf("%s: outcome %+v, want the SDK's own error with status 429", c, o)
	}
	e := o.Error
	if !strings.Contains(e.Message, says) {
		t.Errorf("%s: error message %q does not say %q", c, e.Message, says)
	}
	switch c.provider {
	case "openai", "anthropic":
		// Both SDKs retry 429 twice by default, unless told not to.
		if e.Class != "RateLimitError" {
			t.Errorf("%s: error class %s, want RateLimitError", c, e.Class)
		}
		if e.Headers["x-should-retry"] != "false" {
			t.Errorf("%s: x-should-retry = %q, want false", c, e.Headers["x-should-retry"])
		}
	case "gemini":
		var body struct{ Error struct{ Code int } }
		if json.Unmarshal(e.Body, &body) != nil || body.Error.Code != 429 {
			t.Errorf("%s: ApiError body %s, want a Gemini error with code 429", c, e.Body)
		}
	}
	if after := f.counts(); !maps.Equal(after, before) {
		t.Errorf("%s: upstreams received %v requests, had %v: a refused call must never reach them", c, after, before)
	}
	rows := s.newRows(seen, 1)
	if len(rows) != 1 {
		t.Fatalf("%s: %d new log rows, want exactly 1 refusal (a retried 429 leaves one per attempt): %+v", c, len(rows), rows)
	}
	if r := rows[0]; r.Status != 429 || r.Outcome != gateway.OutcomeRefused || r.Reason != reason || r.Token != "e2e" {
		t.Errorf("%s: log row status %d outcome %q reason %q token %q, want 429 refused %s e2e", c, r.Status, r.Outcome, r.Reason, r.Token, reason)
	}
}

// TestLoopRefusalNotRetried repeats each SDK's call until loop detection
// refuses it: the official SDKs must raise the 429 as their own error
// without retrying it (openai and @anthropic-ai/sdk obey x-should-retry:
// false; @google/genai retries nothing unless retryOptions are set).
func TestLoopRefusalNotRetried(t *testing.T) {
	f, s, token := sluiceSetup(t)
	// Two repeats allowed, so the third identical call is refused.
	s.mustCLI("", "settings", "set", "loop_limit", "2")
	seen := map[string]bool{}
	for _, r := range s.logRows() {
		seen[r.ID] = true
	}
	for _, name := range guardCases {
		c := sdkCaseNamed(t, name)
		t.Run(name, func(t *testing.T) {
			for i := 0; i < 2; i++ {
				if o := runSDK(t, c.script, c.name, sdkBase(c.provider, s.url), token); !o.OK {
					t.Fatalf("%s: identical call %d of 2 allowed: %+v", c, i+1, o.Error)
				}
			}
			s.newRows(seen, 2)
			before := f.counts()
			o := runSDK(t, c.script, c.name, sdkBase(c.provider, s.url), token)
			checkNoRetry429(t, f, s, seen, c, o, before, gateway.ReasonLoop, "sluice loop allow e2e")
		})
	}

	// @google/genai with retryOptions retries the 429 (it does not read
	// x-should-retry): each retry is refused again and none is forwarded.
	t.Run("gemini/generate-retry", func(t *testing.T) {
		c := sdkCaseNamed(t, "gemini/generate")
		before := f.counts()
		o := runSDK(t, c.script, "generate-retry", sdkBase(c.provider, s.url), token)
		if o.OK || o.Error == nil || o.Error.Status != 429 {
			t.Fatalf("generate-retry after the loop was refused: %+v, want a 429 ApiError", o)
		}
		if after := f.counts(); !maps.Equal(after, before) {
			t.Errorf("upstreams received %v requests, had %v: a retried refusal must never reach them", after, before)
		}
		rows := s.newRows(seen, 3)
		if len(rows) != 3 {
			t.Errorf("%d new log rows, want 3 refusals (the call and its two retries): %+v", len(rows), rows)
		}
		for _, r := range rows {
			if r.Status != 429 || r.Reason != gateway.ReasonLoop {
				t.Errorf("log row status %d reason %q, want 429 loop", r.Status, r.Reason)
			}
		}
	})

	// `sluice loop allow` lets the token repeat again.
	s.mustCLI("", "loop", "allow", "e2e", "--for", "1h")
	c := sdkCaseNamed(t, "openai/chat")
	if o := runSDK(t, c.script, c.name, sdkBase(c.provider, s.url), token); !o.OK {
		t.Errorf("%s after sluice loop allow: %+v, want success", c, o.Error)
	}
	s.stop()
}

// TestRPMRefusalNotRetried caps the token at one request a minute: the
// calls past it get 429s that no SDK retries.
func TestRPMRefusalNotRetried(t *testing.T) {
	f, s, token := sluiceSetup(t)
	s.mustCLI("", "token", "rpm", "e2e", "1")
	seen := map[string]bool{}
	for _, r := range s.logRows() {
		seen[r.ID] = true
	}
	first := sdkCaseNamed(t, "openai/responses")
	if o := runSDK(t, first.script, first.name, sdkBase(first.provider, s.url), token); !o.OK {
		t.Fatalf("%s, the first call of the minute: %+v", first, o.Error)
	}
	s.newRows(seen, 1)
	for _, name := range guardCases {
		c := sdkCaseNamed(t, name)
		t.Run(name, func(t *testing.T) {
			before := f.counts()
			o := runSDK(t, c.script, c.name, sdkBase(c.provider, s.url), token)
			checkNoRetry429(t, f, s, seen, c, o, before, gateway.ReasonRPM, "1 requests a minute")
		})
	}
	s.stop()
}
