package gateway

import (
	"strings"
	"testing"
)

// refPrefixProvider is modelProvider's search by prefix as a walk of the
// table: the provider with the longest prefix of lower among those d's
// requests reach. ok is false when two providers claim that longest
// prefix, whose choice the walk left to the map's order.
func refPrefixProvider(lower string, d dialect, providers map[string]Provider) (best string, ok bool) {
	bestLen, ties := 0, 0
	for _, p := range providers {
		if d != nil && p.Dialect != d.info().name && d.info().compatPath(p) == "" {
			continue
		}
		for _, pre := range p.Prefixes {
			if !strings.HasPrefix(lower, pre) || len(pre) < bestLen || len(pre) == 0 {
				continue
			}
			if len(pre) == bestLen && p.Name != best {
				ties++
				continue
			}
			if len(pre) > bestLen {
				ties = 0
			}
			best, bestLen = p.Name, len(pre)
		}
	}
	return best, ties == 0
}

// The prefix index names the provider the walk of the table names, for
// every prefix of every provider (and longer and shorter models), in
// every format and none, in the built-in table and in one with a
// provider reached through OpenAI's format and prefixes that overlap.
func TestPrefixIndexMatchesTable(t *testing.T) {
	custom := DefaultProviders()
	custom["acme"] = Provider{Name: "acme", Dialect: dialectAnthropic, OpenAIPath: "/v1/chat/completions", Prefixes: []string{"acme-", "claude-3-acme", ""}}
	custom["beta"] = Provider{Name: "beta", Dialect: dialectOpenAI, Prefixes: []string{"gpt-4o-mini-beta", "acme-x"}}
	for name, providers := range map[string]map[string]Provider{"built-in": DefaultProviders(), "custom": custom} {
		ix := newPrefixIndex(providers)
		var models []string
		for _, p := range providers {
			for _, pre := range p.Prefixes {
				models = append(models, pre, pre+"x", strings.TrimSuffix(pre, pre[max(len(pre)-1, 0):]))
			}
		}
		models = append(models, "", "gpt-4o-mini", "llama-3", "CLAUDE-X")
		n := 0
		for _, d := range []dialect{nil, openAIDialect{}, anthropicDialect{}, geminiDialect{}} {
			for _, m := range models {
				lower := strings.ToLower(m)
				want, ok := refPrefixProvider(lower, d, providers)
				if !ok {
					continue
				}
				n++
				if got := ix.provider(lower, d); got != want {
					t.Errorf("%s table: prefix index names %q for %q (dialect %v), the table %q", name, got, m, d, want)
				}
			}
		}
		if n < 50 {
			t.Fatalf("%s table: only %d models compared", name, n)
		}
	}
}
