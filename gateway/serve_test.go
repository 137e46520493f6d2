package gateway

// Helpers that tests in both packages (gateway and gateway_test) use to
// put a Proxy in front of fake upstreams.

import (
	"net/http/httptest"
	"testing"
)

// ServeForTest serves p on an httptest server for the rest of t; p logs to
// t unless it has a Logf of its own.
//
// A request's settlement may be written after its answer has gone, so the
// clean-up order matters, and cleanups run last first: the server closes
// (every handler has returned, so every settlement has started), then
// p.Wait lets those settlements finish, and only then do the cleanups
// registered before this call run, such as closing the ledger. A
// settlement that came later would write to a closed ledger and log to a
// test that has ended.
func ServeForTest(t testing.TB, p *Proxy) *httptest.Server {
	t.Helper()
	if p.Logf == nil {
		p.Logf = t.Logf
	}
	t.Cleanup(p.Wait)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv
}

// ConfirmedUpstreams is the default providers with the base URLs of
// upstreams (provider name: base URL), every one of them confirmed, as
// --upstream and --allow-key-to do on the command line.
func ConfirmedUpstreams(t testing.TB, upstreams map[string]string) map[string]Provider {
	t.Helper()
	ps, err := WithUpstreams(DefaultProviders(), upstreams)
	if err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for _, u := range upstreams {
		hosts = append(hosts, HostOf(u))
	}
	return Confirm(ps, hosts)
}

// PriceForTest is the built-in price of provider's model.
func PriceForTest(t testing.TB, provider, model string) Price {
	t.Helper()
	pr, ok := DefaultPrices().Lookup(provider, model)
	if !ok {
		t.Fatalf("no price for %s/%s", provider, model)
	}
	return pr
}
