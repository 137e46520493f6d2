package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// writeError answers with status and msg in the dialect's own error shape,
// so the caller's SDK raises its usual error type with msg in it. kind is
// an OpenAI-style error type; each dialect maps it to its own words.
func writeError(w http.ResponseWriter, dialect string, status int, kind, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Sluice-Error", kind)
	if status == http.StatusPaymentRequired || kind == kindLoop || kind == kindRateLimit ||
		status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests {
		// SDKs retry 408, 409, 429 and 5xx; everything Sluice refuses
		// would be refused again. Its own 429s (a loop, a token's rate
		// cap) say so too: the official SDKs obey x-should-retry first.
		h.Set("X-Should-Retry", "false")
	}
	w.WriteHeader(status)
	w.Write(errorBody(dialect, status, kind, msg))
}

// errorBody returns the JSON error document of the dialect.
func errorBody(dialect string, status int, kind, msg string) []byte {
	var v any
	switch dialect {
	case DialectAnthropic:
		v = map[string]any{"type": "error", "error": map[string]any{"type": anthropicErrorType(status, kind), "message": msg}}
	case DialectGemini:
		v = map[string]any{"error": map[string]any{"code": status, "message": msg, "status": geminiStatus(status)}}
	default:
		v = map[string]any{"error": map[string]any{"message": msg, "type": kind, "param": nil, "code": openAICode(status, kind)}}
	}
	b, _ := json.Marshal(v)
	return b
}

// Error kinds, in OpenAI's words.
const (
	kindInvalid     = "invalid_request_error"
	kindAuth        = "authentication_error"
	kindPermission  = "permission_error"
	kindNotFound    = "not_found_error"
	kindTooLarge    = "request_too_large"
	kindBudget      = "budget_exceeded"
	kindUnpriced    = "unpriced_model"
	kindUpstream    = "upstream_error"
	kindTimeout     = "upstream_timeout"
	kindUnavailable = "sluice_unavailable"
	kindPaused      = "sluice_paused"
	kindLoop        = "loop_detected"
	kindRateLimit   = "rate_limit_exceeded"
)

func openAICode(status int, kind string) any {
	switch kind {
	case kindBudget, kindUnpriced, kindPaused, kindLoop, kindRateLimit:
		return kind
	}
	switch status {
	case http.StatusNotFound:
		return "not_found"
	case http.StatusUnauthorized:
		return "invalid_api_key"
	}
	return nil
}

func anthropicErrorType(status int, kind string) string {
	switch {
	case status == http.StatusPaymentRequired:
		return "billing_error"
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "not_found_error"
	case status == http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case status == http.StatusGatewayTimeout:
		return "timeout_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status >= 500:
		return "api_error"
	}
	return "invalid_request_error"
}

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

// writeRefusal answers a budget refusal: 402 with headers naming the
// budget and a message that says what to do.
func writeRefusal(w http.ResponseWriter, dialect string, ref *Refusal, hint string) {
	h := w.Header()
	h.Set("X-Sluice-Budget", ref.Budget)
	h.Set("X-Sluice-Budget-Limit", ref.Limit.String())
	h.Set("X-Sluice-Budget-Spent", ref.Spent.String())
	h.Set("X-Sluice-Budget-Remaining", ref.Remaining.String())
	if !ref.Resets.IsZero() {
		h.Set("X-Sluice-Budget-Resets", ref.Resets.UTC().Format(time.RFC3339))
	}
	writeError(w, dialect, http.StatusPaymentRequired, kindBudget, refusalMessage(ref, hint))
}

// refusalMessage says which budget refused, how much of it is spent, when
// it resets and how to raise it; hint adds what a smaller request could do.
func refusalMessage(ref *Refusal, hint string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Sluice budget %q (%s) would be exceeded: ", ref.Budget, ref.Scope)
	if held := min(ref.Held, ref.Spent); held > 0 {
		// What requests in flight hold is not spent yet: a stream asking
		// for its next slice holds its own output so far.
		fmt.Fprintf(&b, "%s spent and %s held by requests in flight, of %s", (ref.Spent - held).Format(), held.Format(), ref.Limit.Format())
	} else {
		fmt.Fprintf(&b, "%s spent of %s", ref.Spent.Format(), ref.Limit.Format())
	}
	switch {
	case ref.Window > 0:
		fmt.Fprintf(&b, " in any %s", RollingPeriod(ref.Window))
		if !ref.Resets.IsZero() {
			fmt.Fprintf(&b, ", enough ages out by %s", ref.Resets.Local().Format("15:04 MST"))
		}
	case !ref.Resets.IsZero():
		fmt.Fprintf(&b, ", resets %s", ref.Resets.Local().Format("Mon 2 Jan 15:04 MST"))
	}
	fmt.Fprintf(&b, "; this request could cost up to %s and %s remains.", ref.Wanted.Format(), ref.Remaining.Format())
	if hint != "" {
		b.WriteString(" " + hint)
	}
	if ref.Hint != "" {
		b.WriteString(" " + ref.Hint)
	}
	return b.String()
}

// affordHint says how many output tokens the remaining money affords,
// when a smaller request would fit: the largest n whose worst case,
// computed as the hold computes it, is within remaining.
func affordHint(route string, remaining Money, worst func(maxOutput int64) Money, hi int64) string {
	if hi < 1 || worst(1) > remaining {
		return ""
	}
	lo := int64(1) // worst(lo) fits
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if worst(mid) <= remaining {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	field := "max_tokens"
	switch route {
	case "openai.responses":
		field = "max_output_tokens"
	case "gemini.generateContent", "gemini.streamGenerateContent":
		field = "maxOutputTokens"
	}
	return "A request with " + field + " at most " + strconv.FormatInt(lo, 10) + " would fit."
}
