package store

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/gateway"
)

// encodeHold is h as the journal and the holds bucket keep it: exactly
// what json.Marshal makes of it, written field by field. Every request's
// hold is encoded on its way upstream, and json.Marshal's reflection and
// allocations cost more than the rest of the hold but the fdatasync.
//
// When gateway.Hold has a field this does not write (holdFieldsKnown),
// every hold goes through json.Marshal instead: nothing is lost, and
// TestEncodeHoldIsJSON fails until this learns the field.
func encodeHold(h gateway.Hold) ([]byte, error) {
	return appendHold(nil, h)
}

// appendHold appends encodeHold's bytes to b.
func appendHold(b []byte, h gateway.Hold) ([]byte, error) {
	if !holdFieldsKnown() || !plainTime(h.Time) {
		data, err := json.Marshal(h)
		return append(b, data...), err
	}
	if n := 192 + len(h.ID) + len(h.Token) + len(h.Provider) + len(h.Model) + len(h.Route) + len(h.Prompt); cap(b)-len(b) < n {
		b = append(make([]byte, 0, len(b)+n), b...)
	}
	b = append(b, `{"ID":`...)
	b = appendJSONString(b, h.ID)
	b = append(b, `,"Time":"`...)
	b = h.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","Token":`...)
	b = appendJSONString(b, h.Token)
	b = append(b, `,"Provider":`...)
	b = appendJSONString(b, h.Provider)
	b = append(b, `,"Model":`...)
	b = appendJSONString(b, h.Model)
	b = append(b, `,"Route":`...)
	b = appendJSONString(b, h.Route)
	if h.Prompt != "" {
		b = append(b, `,"Prompt":`...)
		b = appendJSONString(b, h.Prompt)
	}
	b = append(b, `,"Stream":`...)
	b = strconv.AppendBool(b, h.Stream)
	b = append(b, `,"Amount":"`...)
	b, _ = h.Amount.AppendText(b)
	b = append(b, `","Estimated":`...)
	b = strconv.AppendBool(b, h.Estimated)
	return append(b, '}'), nil
}

// holdFields are the JSON names encodeHold writes, in order.
var holdFields = []string{"ID", "Time", "Token", "Provider", "Model", "Route", "Prompt", "Stream", "Amount", "Estimated"}

// holdFieldsKnown reports whether gateway.Hold's JSON fields are
// holdFields.
var holdFieldsKnown = sync.OnceValue(func() bool {
	return slices.Equal(jsonFields(reflect.TypeFor[gateway.Hold]()), holdFields)
})

// jsonFields lists the JSON names of t's fields in order, with those of
// an untagged embedded struct in its place.
func jsonFields(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		switch {
		case tag == "-", !f.IsExported() && !f.Anonymous:
		case f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct:
			names = append(names, jsonFields(f.Type)...)
		case name == "":
			names = append(names, f.Name)
		default:
			names = append(names, name)
		}
	}
	return names
}

// plainTime reports whether t encodes as its RFC 3339 text as it is,
// which time.Time.MarshalJSON refuses for years outside 0–9999 and zone
// offsets of seconds or of 24 hours or more.
func plainTime(t time.Time) bool {
	_, off := t.Zone()
	return t.Year() >= 0 && t.Year() <= 9999 && off%60 == 0 && off > -24*3600 && off < 24*3600
}

// jsonPlain says which bytes encoding/json writes in a string as they
// are: printable ASCII but '"', '\\', '<', '>' and '&'. One look-up a byte
// is about twice as fast as the comparisons it stands for, on the dozen
// strings of every record.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONString appends s as encoding/json writes a string: quoted,
// with '<', '>' and '&' escaped as well as what JSON requires, and
// invalid UTF-8 replaced. Only a string of plain printable ASCII is
// written here; any other goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !jsonPlain[s[i]] {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
