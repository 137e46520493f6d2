package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
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
// its models, which costs nothing) with key and says whether the key works,
// in the provider's format among those px serves. An error means the
// provider could not be asked, not that the key is bad. px may be nil (no
// gateway runs in this process): the formats Sluice ships are asked.
func (px *Proxy) CheckKey(ctx context.Context, client *http.Client, p Provider, key string) (KeyCheck, error) {
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
	d := dialectNamed(px.dialectList(), p.Dialect)
	if d == nil {
		return KeyCheck{}, fmt.Errorf("provider %s speaks %q, which Sluice does not", p.Name, p.Dialect)
	}
	di := d.info()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(p.BaseURL, "/")+di.keyCheck, nil)
	if err != nil {
		return KeyCheck{}, err
	}
	for k, vs := range di.keyCheckHeader {
		req.Header[k] = slices.Clone(vs)
	}
	di.setKey(req.Header, key, false)
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
	case slices.Contains(di.keyRefused, resp.StatusCode):
		c.Message = fmt.Sprintf("%s refused the key (HTTP %d)", p.Name, resp.StatusCode)
	default:
		return c, fmt.Errorf("%s answered HTTP %d: cannot tell whether the key is valid", p.Name, resp.StatusCode)
	}
	return c, nil
}
