package gateway

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/bits"
	"unicode"
	"unicode/utf8"
)

// A small JSON scanner for the request path: it finds values in a body
// by their extent, without building maps or decoding what it passes
// over, so reading a few members of a large request costs a walk over
// its bytes and nothing else. It checks the grammar (strings, numbers,
// literals, nesting) as encoding/json does, but not the UTF-8 inside
// strings, which encoding/json does not refuse either.

// errScan is what a malformed body yields; callers that must say why
// decode it with encoding/json.
var errScan = errors.New("malformed JSON")

// maxScanDepth is the deepest nesting scanned, as encoding/json's.
const maxScanDepth = 10000

// spaceEnd returns the index of the first byte at or after i that is
// not JSON white space.
func spaceEnd(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// valueEnd returns the end of the JSON value that starts at b[i] (no
// white space before it).
func valueEnd(b []byte, i int) (int, error) { return valueEndDepth(b, i, 0) }

func valueEndDepth(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, errScan
	}
	switch c := b[i]; {
	case c == '"':
		return stringEnd(b, i)
	case c == '{':
		if depth >= maxScanDepth {
			return i, errScan
		}
		i = spaceEnd(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return i, errScan
			}
			var err error
			if i, err = stringEnd(b, i); err != nil {
				return i, err
			}
			i = spaceEnd(b, i)
			if i >= len(b) || b[i] != ':' {
				return i, errScan
			}
			if i, err = valueEndDepth(b, spaceEnd(b, i+1), depth+1); err != nil {
				return i, err
			}
			var last bool
			if i, last, err = nextElement(b, i, '}'); err != nil || last {
				return i, err
			}
			i = spaceEnd(b, i)
		}
	case c == '[':
		if depth >= maxScanDepth {
			return i, errScan
		}
		i = spaceEnd(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		for {
			var err error
			if i, err = valueEndDepth(b, i, depth+1); err != nil {
				return i, err
			}
			var last bool
			if i, last, err = nextElement(b, i, ']'); err != nil || last {
				return i, err
			}
			i = spaceEnd(b, i)
		}
	case c == 't':
		return literalEnd(b, i, "true")
	case c == 'f':
		return literalEnd(b, i, "false")
	case c == 'n':
		return literalEnd(b, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return numberEnd(b, i)
	}
	return i, errScan
}

// nextElement reads what follows an element of an object or array that
// ends at b[e], close being the container's last byte: white space, then
// close or a comma. It returns the index past that byte, last true for
// close; the next element may start with white space. Anything else is
// errScan.
func nextElement(b []byte, e int, close byte) (i int, last bool, err error) {
	i = spaceEnd(b, e)
	if i < len(b) && (b[i] == close || b[i] == ',') {
		return i + 1, b[i] == close, nil
	}
	return i, false, errScan
}

func literalEnd(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, errScan
	}
	return i + len(lit), nil
}

// stringEnd returns the end of the string whose quote is at b[i].
func stringEnd(b []byte, i int) (int, error) {
	for i++; i < len(b); {
		// Eight bytes at a time while none of them ends the string,
		// starts an escape or is a control character: text, mostly.
		// Eight that hold one go straight to the first of them (most
		// strings, keys above all, end within eight bytes).
		i = plainEnd(b, i)
		if i >= len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return i, errScan
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 || !isHexByte(b[i+2]) || !isHexByte(b[i+3]) || !isHexByte(b[i+4]) || !isHexByte(b[i+5]) {
					return i, errScan
				}
				i += 6
			default:
				return i, errScan
			}
		case c < 0x20:
			return i, errScan
		default:
			i++
		}
	}
	return i, errScan
}

// stringSpecial reports whether any of the eight bytes in x is a quote,
// a backslash or below 0x20.
func stringSpecial(x uint64) bool { return stringSpecials(x) != 0 }

// plainEnd returns where, from b[i], the first byte that may end a JSON
// string, start an escape or be a control character is, reading eight
// bytes at a time: the index of the first byte stringSpecials marks, or
// where fewer than eight bytes are left to read.
func plainEnd(b []byte, i int) int {
	for i+8 <= len(b) {
		if m := stringSpecials(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	return i
}

// stringSpecials marks, with its high bit, each of the eight bytes in x
// (little-endian) that is a quote, a backslash or below 0x20 (the bit
// tricks of "Bit Twiddling Hacks": determine if a word has a zero byte,
// or a byte less than n). Above the first byte marked, a byte may be
// marked that is none of these (a borrow runs on into it); the first
// byte marked is always one, so the lowest mark finds it.
func stringSpecials(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(v uint64) uint64 { return (v - ones) & ^v & highs }
	return zero(x^('"'*ones)) | zero(x^('\\'*ones)) | (x-0x20*ones)&^x&highs
}

// numberEnd returns the end of the number that starts at b[i].
func numberEnd(b []byte, i int) (int, error) {
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return i, errScan
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return i, errScan
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, errScan
		}
	}
	return i, nil
}

// scanObject calls fn with the raw key (quotes included) and the raw
// value of each member of the object b holds, in order, until fn returns
// false. b must be one JSON object, white space around it allowed; it
// returns errScan if b is anything else, having called fn for the
// members before the fault.
func scanObject(b []byte, fn func(key, val []byte) bool) error {
	// One pass: each member is checked as it is handed to fn, and what
	// follows the member fn stops at is still checked.
	i := spaceEnd(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errScan
	}
	i = spaceEnd(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		call := true
		for {
			if i >= len(b) || b[i] != '"' {
				return errScan
			}
			ks := i
			ke, err := stringEnd(b, i)
			if err != nil {
				return err
			}
			i = spaceEnd(b, ke)
			if i >= len(b) || b[i] != ':' {
				return errScan
			}
			vs := spaceEnd(b, i+1)
			ve, err := valueEndDepth(b, vs, 1)
			if err != nil {
				return err
			}
			if call {
				call = fn(b[ks:ke], b[vs:ve])
			}
			var last bool
			if i, last, err = nextElement(b, ve, '}'); err != nil {
				return err
			}
			if last {
				break
			}
			i = spaceEnd(b, i)
		}
	}
	if spaceEnd(b, i) != len(b) {
		return errScan
	}
	return nil
}

// scanMembers is scanObject over obj, one object already known well
// formed from its first byte to its last.
func scanMembers(obj []byte, fn func(key, val []byte) bool) error {
	i := spaceEnd(obj, 1)
	if obj[i] == '}' {
		return nil
	}
	for {
		ks := i
		ke, err := stringEnd(obj, i)
		if err != nil {
			return err
		}
		i = spaceEnd(obj, spaceEnd(obj, ke)+1) // past ':'
		vs := i
		ve := knownEnd(obj, i)
		if !fn(obj[ks:ke], obj[vs:ve]) {
			return nil
		}
		i = spaceEnd(obj, ve)
		if obj[i] == '}' {
			return nil
		}
		i = spaceEnd(obj, i+1) // past ','
	}
}

// scanArray calls fn with each raw element of arr, one array already
// known well formed, until fn returns false.
func scanArray(arr []byte, fn func(elem []byte) bool) error {
	i := spaceEnd(arr, 1)
	if arr[i] == ']' {
		return nil
	}
	for {
		e := knownEnd(arr, i)
		if !fn(arr[i:e]) {
			return nil
		}
		i = spaceEnd(arr, e)
		if arr[i] == ']' {
			return nil
		}
		i = spaceEnd(arr, i+1)
	}
}

// knownEnd returns the end of the JSON value that starts at b[i], which
// is known well formed (scanMembers' and scanArray's values are: checked
// once, as the whole they are part of was scanned), without checking its
// grammar again: the strings in it found as stringEnd finds them, the
// rest a byte at a time. Reading a member of a member of an answer
// checked each level again, once for each level above it.
func knownEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return knownStringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = knownStringEnd(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	// A number or a literal: up to what follows it.
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// knownStringEnd returns the end of the well-formed string whose quote is at
// b[i].
func knownStringEnd(b []byte, i int) int {
	for i++; i < len(b); {
		// As stringEnd: eight bytes at a time while none of them ends
		// the string or starts an escape.
		i = plainEnd(b, i)
		if i >= len(b) {
			break
		}
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			i += 2
		default:
			i++
		}
	}
	return len(b)
}

// unquote returns the text of the raw JSON string s (quotes included),
// as encoding/json decodes it.
func unquote(s []byte) string {
	in := s[1 : len(s)-1]
	if !containsByte(in, '\\') && utf8.Valid(in) {
		// No escape, and valid UTF-8 (ASCII above all): the text is
		// the bytes.
		return string(in)
	}
	var out string
	if json.Unmarshal(s, &out) != nil {
		return string(in)
	}
	return out
}

// rawText is unquote's text as bytes: for a string with no escapes and
// valid UTF-8, s's own bytes, without a copy.
func rawText(s []byte) []byte {
	in := s[1 : len(s)-1]
	if !containsByte(in, '\\') && utf8.Valid(in) {
		return in
	}
	return []byte(unquote(s))
}

// containsByte reports whether c is in b: bytes.IndexByte, which
// searches many bytes at a time (a request's text runs long).
func containsByte(b []byte, c byte) bool { return bytes.IndexByte(b, c) >= 0 }

// jsonValue is one JSON value as its bytes stand in a well-formed body,
// without white space around it; nil is a member that is absent. Its
// methods read it as encoding/json would decode it into an any (numbers
// as json.Number), without building anything: a value that is not what
// a method reads (get on a string, text of a number) reads as absent,
// empty or zero.
type jsonValue []byte

// get returns the member called name of the object v, the last one when
// it is there more than once, as encoding/json keeps the last; nil when v
// is not an object or has no such member.
func (v jsonValue) get(name string) jsonValue {
	if len(v) == 0 || v[0] != '{' {
		return nil
	}
	var found jsonValue
	scanMembers(v, func(key, val []byte) bool {
		if keyIs(key, name) {
			found = val
		}
		return true
	})
	return found
}

// first returns the member of v called by the first of names that v has,
// whatever its value (null too), or nil.
func (v jsonValue) first(names ...string) jsonValue { return firstOf(v, names) }

// firstOf is first for a jsonValue or a jsonObject.
func firstOf[T interface{ get(string) jsonValue }](v T, names []string) jsonValue {
	for _, n := range names {
		if x := v.get(n); x != nil {
			return x
		}
	}
	return nil
}

// null reports whether v is absent or null.
func (v jsonValue) null() bool { return v == nil || string(v) == "null" }

// isTrue reports whether v is the literal true.
func (v jsonValue) isTrue() bool { return string(v) == "true" }

// text returns the decoded text of the string v; ok is false when v is
// not a string. The text is v's own bytes when the string has no escapes
// and is valid UTF-8; the caller must not change it.
func (v jsonValue) text() (t []byte, ok bool) {
	if len(v) == 0 || v[0] != '"' {
		return nil, false
	}
	return rawText(v), true
}

// str is text as a string, "" for what is not a string.
func (v jsonValue) str() string {
	if len(v) == 0 || v[0] != '"' {
		return ""
	}
	return unquote(v)
}

// textLen is the length of the decoded text of the string v, -1 when v
// is not a string.
func (v jsonValue) textLen() int64 {
	t, ok := v.text()
	if !ok {
		return -1
	}
	return int64(len(t))
}

// elems calls fn with each element of the array v, in order.
func (v jsonValue) elems(fn func(e jsonValue)) {
	if len(v) == 0 || v[0] != '[' {
		return
	}
	scanArray(v, func(e []byte) bool {
		fn(e)
		return true
	})
}

// empty reports whether v is an empty array or object.
func (v jsonValue) empty() bool {
	return len(v) > 0 && (v[0] == '[' || v[0] == '{') && spaceEnd(v, 1) == len(v)-1
}

// keys calls fn with the decoded name of each member of the object v.
func (v jsonValue) keys(fn func(name []byte)) {
	if len(v) == 0 || v[0] != '{' {
		return
	}
	scanMembers(v, func(key, _ []byte) bool {
		fn(rawText(key))
		return true
	})
}

// keyIs reports whether the raw key (quotes included) decodes to name.
func keyIs(key []byte, name string) bool {
	if in := key[1 : len(key)-1]; len(in) == len(name) && string(in) == name {
		return true
	}
	if !containsByte(key, '\\') && utf8.Valid(key) {
		return false
	}
	return string(rawText(key)) == name
}

// bodyMember is one member of an object: its decoded name and its value.
type bodyMember struct {
	name []byte
	val  jsonValue
}

// jsonObject is an object whose members have been read, in order,
// duplicates and all.
type jsonObject []bodyMember

// get returns the value of the last member called name, or nil.
func (o jsonObject) get(name string) jsonValue {
	for i := len(o) - 1; i >= 0; i-- {
		if string(o[i].name) == name {
			return o[i].val
		}
	}
	return nil
}

// first returns the value of the member called by the first of names
// that o has, or nil.
func (o jsonObject) first(names ...string) jsonValue { return firstOf(o, names) }

// isObject and isArray report what kind of value v is.
func (v jsonValue) isObject() bool { return len(v) > 0 && v[0] == '{' }
func (v jsonValue) isArray() bool  { return len(v) > 0 && v[0] == '[' }

// hasPrefix is strings.HasPrefix for decoded text.
func hasPrefix(t []byte, prefix string) bool {
	return len(t) >= len(prefix) && string(t[:len(prefix)]) == prefix
}

// hasLowerPrefix reports whether strings.ToLower(string(t)) begins with
// the lower-case ASCII prefix, without making the lower-case copy.
func hasLowerPrefix(t []byte, prefix string) bool {
	for i := 0; i < len(prefix); i++ {
		if len(t) == 0 {
			return false
		}
		r, n := utf8.DecodeRune(t)
		if unicode.ToLower(r) != rune(prefix[i]) {
			return false
		}
		t = t[n:]
	}
	return true
}
