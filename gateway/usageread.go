package gateway

import (
	"bytes"
	"unicode/utf8"
)

// The readers of provider answers take what metering needs (usage, model,
// service tier, tool calls) straight from the bytes with the scanner of
// jsonscan.go, and give exactly what encoding/json gives when it decodes
// the same members into the structs that describe them (usageref_test.go
// keeps those as the reference, and a fuzz test holds the two together).
// So they follow encoding/json's rules, odd ones included:
//
//   - a member is matched to a field by its decoded name, without regard
//     to case (bytes.EqualFold, as encoding/json folds names);
//   - members are taken in order, so the last of duplicates wins, and a
//     second object for the same field is merged into the first;
//   - null empties a pointer or a slice and leaves anything else as it was;
//   - a value of the wrong type leaves its field as it was, except that a
//     pointer field is then allocated (so it counts as present);
//   - an array decoded into a slice reuses the elements an earlier array
//     left in it, merging into them.
//
// Each read method decodes a value known to be well formed (the scanner
// checked it) into its receiver as encoding/json decodes into an existing
// value; none allocates unless a string must be kept.

// fieldIndex returns the index in names of the field that the raw member
// key (quotes included) names, as encoding/json matches names, or -1. The
// names must differ from each other under case folding, as the fields of
// every struct read here do: then an exact match and a folded one agree.
func fieldIndex(key []byte, names []string) int {
	in := key[1 : len(key)-1]
	for i, n := range names {
		if string(in) == n {
			return i
		}
	}
	plain := true
	for _, c := range in {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if !plain {
		// An escape, or a letter outside ASCII that may fold into one
		// (the Kelvin sign is a k).
		name := rawText(key)
		for i, n := range names {
			if bytes.EqualFold(name, []byte(n)) {
				return i
			}
		}
		return -1
	}
	for i, n := range names {
		if asciiEqualFold(in, n) {
			return i
		}
	}
	return -1
}

// asciiEqualFold is bytes.EqualFold for ASCII text.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// members calls fn with each member of the object v, in order; nothing
// when v is not an object.
func members(v []byte, fn func(key, val []byte)) {
	if len(v) == 0 || v[0] != '{' {
		return
	}
	scanMembers(v, func(key, val []byte) bool {
		fn(key, val)
		return true
	})
}

// read decodes val into t as encoding/json does into a tokens field (see
// UnmarshalJSON), null included.
func (t *tokens) read(val []byte) {
	// A plain count, as providers write them.
	if n, ok := plainCount(val); ok {
		*t = tokens(clampCount(float64(n)))
		return
	}
	t.UnmarshalJSON(val)
}

// optTokens is a count that may be absent: a *tokens field as encoding/json
// fills it.
type optTokens struct {
	n   tokens
	set bool
}

func (t *optTokens) read(val []byte) {
	if val[0] == 'n' {
		*t = optTokens{}
		return
	}
	t.set = true
	t.n.read(val)
}

// get is the count, 0 when absent.
func (t optTokens) get() int64 { return int64(t.n) }

// readString decodes val into s as encoding/json does into a string
// field: a string replaces it, anything else leaves it.
func readString(val []byte, s *string) {
	if val[0] == '"' {
		*s = unquote(val)
	}
}

// openPtr applies val to a pointer-to-struct field, held as the struct v
// and whether the pointer is set, as encoding/json does before decoding
// into what it points to: null empties it, anything else sets it (to a
// zero struct if it was empty). It reports whether val is an object to
// decode into v.
func openPtr[T any](set *bool, v *T, val []byte) bool {
	if val[0] == 'n' {
		*set = false
		var zero T
		*v = zero
		return false
	}
	if !*set {
		*set = true
		var zero T
		*v = zero
	}
	return val[0] == '{'
}

// slots follows a slice of structs as encoding/json fills it across
// every array decoded into it: an element keeps what an earlier array
// put at its index unless the new element replaces it, and null empties
// the slice. Each slot is the one thing of its element a reader needs
// (a kind of output item, a count), as a small integer.
type slots struct {
	v []int64 // every slot ever filled since the slice was last emptied
	n int     // the slice's length
}

// read decodes the array val into s, calling elem to decode each element
// into its slot; null empties s, anything else leaves it.
func (s *slots) read(val []byte, elem func(e []byte, slot *int64)) {
	switch val[0] {
	case 'n':
		s.v, s.n = s.v[:0], 0
	case '[':
		i := 0
		scanArray(val, func(e []byte) bool {
			if i == len(s.v) {
				s.v = append(s.v, 0)
			}
			elem(e, &s.v[i])
			i++
			return true
		})
		s.n = i
	}
}

// each calls fn with each slot of the slice, in order.
func (s *slots) each(fn func(v int64)) {
	for _, v := range s.v[:s.n] {
		fn(v)
	}
}

// setText sets *s to the text of the raw JSON string v, without making a
// new string when *s holds that text already (a stream repeats its model
// in every event).
func setText(s *string, v []byte) {
	if in := v[1 : len(v)-1]; string(in) == *s && !containsByte(in, '\\') && utf8.Valid(in) {
		return
	}
	*s = unquote(v)
}

// readEventData reads a stream event's data as encoding/json decodes it
// into a struct: fn takes each member of an object; it reports false for
// data that is not JSON, and reads nothing of JSON that is not an object.
func readEventData(data []byte, fn func(key, val []byte) bool) bool {
	t := bytes.TrimSpace(data)
	if len(t) > 0 && t[0] == '{' {
		return scanObject(t, fn) == nil
	}
	end, err := valueEnd(t, 0)
	return err == nil && end == len(t)
}
