package gateway

import (
	"reflect"
	"testing"
)

// dialectByName is the built-in dialect named name, or nil.
func dialectByName(name string) dialect { return dialectNamed(builtinDialects, name) }

// testRoute is the route of dialect named d whose metered name is name,
// as parseRoute makes it for a request on it.
func testRoute(d, name string) route {
	dl := dialectByName(d)
	if dl == nil {
		panic("no dialect " + d)
	}
	for _, e := range dl.info().endpoints {
		if string(e.name) == name {
			return route{dialect: dl, Name: e.name, Free: e.free, Stream: e.streams, embeds: e.embeds, upload: e.upload, maxField: e.max}
		}
	}
	panic("no route " + name + " in dialect " + d)
}

// inspectFor inspects body as a request of dialect d on route name.
func inspectFor(d, name string, body []byte) (requestInfo, error) {
	info, _, err := inspectRequest(builtinDialects, dialectByName(d), testRoute(d, name), body, nil)
	return info, err
}

// usageFor reads the usage of an answer of dialect d on route name.
func usageFor(d, name string, body []byte) (Usage, string, bool) {
	u, model, ok := dialectByName(d).usage(testRoute(d, name), body)
	return u, unquoteOrEmpty(model), ok
}

// meterFor is a stream meter for dialect d on route name.
func meterFor(d, name string, hide bool) *streamMeter {
	return newStreamMeter(dialectByName(d), testRoute(d, name), hide)
}

// cutFor is the cut event of dialect d on route name, numbered 0.
func cutFor(d, name, kind, msg string) []byte {
	return dialectByName(d).cutEvent(testRoute(d, name), errKind(kind), msg, 0)
}

func TestDialectsNamed(t *testing.T) {
	for _, name := range []string{dialectOpenAI, dialectAnthropic, dialectGemini} {
		if d := dialectByName(name); d == nil || d.info().name != name {
			t.Errorf("dialectByName(%q) = %v", name, d)
		}
	}
}

// testEndpoint is one (method, path) Sluice forwards, for the tests: Path is as the provider spells it, placeholders in braces.
type testEndpoint struct {
	Dialect string
	Method  string
	Path    string
	Metered bool // held, metered and charged
	Free    bool // relayed and recorded at $0: the provider charges nothing
}

// allEndpoints lists every (method, path) Sluice forwards, in each dialect's
// own spelling.
func allEndpoints() []testEndpoint {
	var out []testEndpoint
	for _, d := range builtinDialects {
		version, _, _ := d.info().version("/")
		for _, e := range d.info().endpoints {
			out = append(out, testEndpoint{Dialect: d.info().name, Method: e.method, Path: "/" + version + e.pattern, Metered: e.name != "" && !e.free, Free: e.free})
		}
	}
	return out
}

// sameMeter reports whether two meters noted the same of their streams;
// the buffer an edited event was written in is no part of that.
func sameMeter(a, b *streamMeter) bool {
	x, y := *a, *b
	x.edited, y.edited = nil, nil
	return reflect.DeepEqual(x, y)
}
