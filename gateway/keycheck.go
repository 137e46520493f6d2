package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// KeyCheck is the result of trying a provider key.
type KeyCheck struct {
	Provider string `json:"provider"`
	Valid    bool   `json:"valid"`
	Status   int    `json:"status,omitempty"`
	Message  string `json:"message"`
}

// CheckKey makes the cheapest authenticated call the provider has (listing
// its models, which costs nothing) with key and says whether the key works.
// An error means the provider could not be asked, not that the key is bad.
func CheckKey(ctx context.Context, client *http.Client, p Provider, key string) (KeyCheck, error) {
	if client == nil {
		client = http.DefaultClient
	}
	if key != "" && p.UnconfirmedHost != "" {
		return KeyCheck{}, errors.New(unconfirmedMessage(p))
	}
	// A redirect is never followed with the key: it would carry the key's
	// header to wherever it points.
	noRedirect := *client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	client = &noRedirect
	base := strings.TrimRight(p.BaseURL, "/")
	var url string
	switch p.Dialect {
	case DialectAnthropic:
		url = base + "/v1/models?limit=1"
	case DialectGemini:
		url = base + "/v1beta/models?pageSize=1"
	default:
		url = base + "/models"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return KeyCheck{}, err
	}
	switch p.Dialect {
	case DialectAnthropic:
		req.Header.Set("X-Api-Key", key)
		req.Header.Set("Anthropic-Version", "2023-06-01")
	case DialectGemini:
		req.Header.Set("X-Goog-Api-Key", key)
	default:
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return KeyCheck{}, fmt.Errorf("ask %s: %w", p.Name, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	c := KeyCheck{Provider: p.Name, Status: resp.StatusCode}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return c, fmt.Errorf("%s answered HTTP %d, a redirect to %q: Sluice does not follow a redirect with a key, so it cannot tell whether the key is valid", p.Name, resp.StatusCode, resp.Header.Get("Location"))
	case resp.StatusCode < 300:
		c.Valid, c.Message = true, p.Name+" accepted the key"
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
		p.Dialect == DialectGemini && resp.StatusCode == http.StatusBadRequest:
		c.Message = fmt.Sprintf("%s refused the key (HTTP %d)", p.Name, resp.StatusCode)
	default:
		return c, fmt.Errorf("%s answered HTTP %d: cannot tell whether the key is valid", p.Name, resp.StatusCode)
	}
	return c, nil
}
