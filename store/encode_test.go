package store

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
)

// TestEncodeHoldIsJSON checks that encodeHold writes what json.Marshal
// does, byte for byte: for holds with every field set (so that a field
// added to gateway.Hold and not written fails here), and for the strings
// and times encoding/json escapes or refuses.
func TestEncodeHoldIsJSON(t *testing.T) {
	if !holdFieldsKnown() {
		t.Errorf("gateway.Hold's JSON fields are %q,\nencodeHold writes %q: teach it the difference", jsonFields(reflect.TypeFor[gateway.Hold]()), holdFields)
	}
	full := gateway.Hold{}
	v := reflect.ValueOf(&full).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch {
		case f.Type() == reflect.TypeOf(time.Time{}):
			f.Set(reflect.ValueOf(time.Date(2026, 11, 30, 15, 4, 5, 123456789, time.FixedZone("x", 3600))))
		case f.Kind() == reflect.String:
			f.SetString("field-" + v.Type().Field(i).Name)
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.Kind() == reflect.Int64:
			f.SetInt(1234567)
		default:
			t.Fatalf("gateway.Hold.%s is a %s: teach encodeHold and this test to write it", v.Type().Field(i).Name, f.Type())
		}
	}
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []gateway.Hold{
		full,
		{},
		{ID: "a", Time: when, Amount: -gateway.Dollar / 3},
		{ID: `q"uote\back<slash>&amp;`, Time: when, Token: "tab\there", Model: "modèle", Route: "\x00\x1f", Prompt: "p"},
		{ID: "bad-utf8-\xff\xfe", Time: when, Provider: "\u2028\u2029"},
		{ID: "far", Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{ID: "odd-zone", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("lmt", 3600+17))},
		{ID: "far-zone", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 24*3600))},
		{ID: "far-zone-west", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("farw", -25*3600))},
		{ID: "local", Time: time.Now(), Amount: 1},
	}
	for _, h := range cases {
		got, gotErr := encodeHold(h)
		want, wantErr := json.Marshal(h)
		if (gotErr != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Errorf("encodeHold(%+v) = %s, %v; want %s, %v", h, got, gotErr, want, wantErr)
		}
	}
}

// appendJSONString writes every byte as encoding/json does, alone and
// among plain ones.
func TestAppendJSONStringEveryByte(t *testing.T) {
	for c := range 256 {
		for _, s := range []string{string([]byte{byte(c)}), "id-" + string([]byte{byte(c)}) + "-x"} {
			want, _ := json.Marshal(s)
			if got := appendJSONString([]byte("prefix"), s); string(got) != "prefix"+string(want) {
				t.Errorf("appendJSONString(%q) = %s, want %s", s, got[len("prefix"):], want)
			}
		}
	}
}
