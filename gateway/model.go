package gateway

import (
	"path"
	"strings"
)

// modelID is a model's name as Sluice compares, prices, budgets and logs
// it: without surrounding space, in lower case, without the resource path
// a provider may wrap it in (its Provider.ModelPath: "models/gemini-2.5-flash",
// "accounts/fireworks/models/...") or the provider's own name as a prefix
// ("openai/gpt-4o" at openai). Other prefixes are part of the id: at Groq,
// "openai/gpt-oss-120b" is a model of its own. The snapshot is kept:
// "gpt-4o-2024-11-20" stays itself; modelBases gives its family.
func modelID(provider, model string) string {
	m := strings.ToLower(strings.TrimSpace(model))
	prov := strings.ToLower(strings.TrimSpace(provider))
	if path := modelPath(prov); path != "" {
		// "models/gemini-2.5-flash", "publishers/google/models/...".
		if i := strings.LastIndex(m, path); i >= 0 {
			m = m[i+len(path):]
		}
	}
	if prov != "" {
		if rest, ok := strings.CutPrefix(m, prov+"/"); ok && rest != "" {
			m = rest
		}
	}
	return m
}

// modelBases returns id and then each name left by removing one more
// snapshot suffix: "gpt-4o-2024-11-20" gives "gpt-4o-2024-11-20", "gpt-4o".
// A snapshot suffix is a date ("-2024-08-06", "-20250929", "-09-2025",
// "-05-20", "-0613"), a year and month ("-2407"), a zero-led version
// ("-001"), a long numeric build (six digits or more), "-latest" or an
// "@" tag ("@20250514", "@default"); never a minor version:
// "claude-opus-4-10" and "claude-opus-5-5" are models of their own.
func modelBases(id string) []string {
	out := []string{id}
	for cand := id; ; {
		next, ok := snapshotBase(cand)
		if !ok {
			return out
		}
		out = append(out, next)
		cand = next
	}
}

// ModelCovers reports whether pattern, a budget's model (an exact name or
// a path.Match pattern such as "claude-opus-*", in any case), covers model
// at provider: the model's id or any of its bases (see modelBases) is the
// name or matches the pattern. So "gpt-4o" covers "gpt-4o-2024-11-20",
// "gpt-4o-latest", "GPT-4o" and " gpt-4o", never "gpt-4o-mini".
func ModelCovers(pattern, provider, model string) bool {
	p := strings.ToLower(strings.TrimSpace(pattern))
	if p == "" {
		return true
	}
	prov := strings.ToLower(strings.TrimSpace(provider))
	for _, cand := range modelBases(modelID(provider, model)) {
		for _, name := range []string{cand, prov + "/" + cand} {
			if name == p {
				return true
			}
			if ok, err := path.Match(p, name); err == nil && ok {
				return true
			}
		}
	}
	return false
}

// snapshotBase returns id without its last snapshot suffix (see
// modelBases), and whether it had one.
func snapshotBase(id string) (string, bool) {
	if base, ok := strings.CutSuffix(id, "-latest"); ok && base != "" {
		return base, true
	}
	if i := strings.LastIndexByte(id, '@'); i > 0 && i < len(id)-1 {
		return id[:i], true
	}
	i := strings.LastIndexByte(id, '-')
	if i <= 0 {
		return "", false
	}
	last := id[i+1:]
	if !allDigits(last) {
		return "", false
	}
	base := id[:i]
	switch n := len(last); {
	case n >= 6: // -20250929, a long numeric build
		return base, true
	case n == 4 && (validMonthDay(last[:2], last[2:]) || last[:2] >= "20" && last[:2] <= "39" && validMonth(last[2:])):
		// -0613 (month and day), -2407 (year and month)
		return base, true
	case n == 4:
		// -2025 after a month: -09-2025.
		if b, ok := cutDatePart(base, 2, 2); ok && validMonth(base[len(base)-2:]) && last >= "2000" {
			return b, true
		}
	case n == 3 && last[0] == '0': // -001
		return base, true
	case n == 2:
		// -05-20 (month and day), -2024-08-06 (a whole date).
		mb, ok := cutDatePart(base, 2, 2)
		if !ok || !validMonthDay(base[len(base)-2:], last) {
			return "", false
		}
		if yb, ok := cutDatePart(mb, 4, 4); ok && mb[len(mb)-4:] >= "2000" {
			return yb, true
		}
		return mb, true
	}
	return "", false
}

// cutDatePart removes from s a final "-" and digits of length between
// min and max, and reports whether s ended so.
func cutDatePart(s string, min, max int) (string, bool) {
	i := strings.LastIndexByte(s, '-')
	if i <= 0 {
		return "", false
	}
	d := s[i+1:]
	if len(d) < min || len(d) > max || !allDigits(d) {
		return "", false
	}
	return s[:i], true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func validMonth(mm string) bool { return len(mm) == 2 && mm >= "01" && mm <= "12" }

func validMonthDay(mm, dd string) bool {
	return validMonth(mm) && len(dd) == 2 && dd >= "01" && dd <= "31"
}
