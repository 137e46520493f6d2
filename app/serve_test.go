package app

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestUncleanProviderPaths: a provider path with dot segments or doubled
// slashes, sent as is, gets the proxy's 400 in the caller's dialect, not
// the mux's redirect to the clean path.
func TestUncleanProviderPaths(t *testing.T) {
	g := startTest(t)
	for _, tt := range []struct {
		path, header, dialect string
	}{
		{"/v1/x/../chat/completions", "", "openai"},
		{"/v1/./chat/completions", "", "openai"},
		{"/v1//chat/completions", "", "openai"},
		{"/openai/v1/x/../chat/completions", "", "openai"},
		{"/v1//messages", "Anthropic-Version: 2023-06-01\r\n", "anthropic"},
		{"/v1/x/../messages", "Anthropic-Version: 2023-06-01\r\n", "anthropic"},
		{"/v1beta/models/../models/gemini-2.5-flash:generateContent", "", "gemini"},
	} {
		c, err := net.Dial("tcp", g.Addr)
		if err != nil {
			t.Fatal(err)
		}
		body := `{"model":"gpt-4o-mini","messages":[]}`
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			tt.path, g.Addr, tt.header, len(body), body)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			t.Fatalf("POST %s: %v", tt.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		c.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST %s = %d %s (Location %q), want 400", tt.path, resp.StatusCode, b, resp.Header.Get("Location"))
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Errorf("POST %s: body %s is not JSON", tt.path, b)
			continue
		}
		e, _ := doc["error"].(map[string]any)
		switch tt.dialect {
		case "anthropic":
			if doc["type"] != "error" || e == nil || e["type"] != "invalid_request_error" {
				t.Errorf("POST %s = %s, want Anthropic's error shape", tt.path, b)
			}
		case "gemini":
			if e == nil || e["status"] != "INVALID_ARGUMENT" {
				t.Errorf("POST %s = %s, want Gemini's error shape", tt.path, b)
			}
		default:
			if e == nil || e["message"] == nil || doc["type"] != nil {
				t.Errorf("POST %s = %s, want OpenAI's error shape", tt.path, b)
			}
		}
	}
	// Clean paths still reach the dashboard and the proxy as before.
	resp, err := http.Get("http://" + g.Addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET / = %d, want 200", resp.StatusCode)
	}
}
