package store

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/gateway"
)

// encodeHold is h as the journal and the holds bucket keep it: exactly
// what json.Marshal makes of it, written field by field. Every request's
// hold is encoded on its way upstream, and json.Marshal's reflection and
// allocations cost more than the rest of the hold but the fdatasync. A
// test fails when gateway.Hold gains a field this does not write.
func encodeHold(h gateway.Hold) ([]byte, error) {
	if !plainTime(h.Time) {
		return json.Marshal(h)
	}
	b := make([]byte, 0, 192+len(h.ID)+len(h.Token)+len(h.Provider)+len(h.Model)+len(h.Route)+len(h.Prompt))
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

// plainTime reports whether t encodes as its RFC 3339 text as it is,
// which time.Time.MarshalJSON refuses for years outside 0–9999 and zone
// offsets of seconds.
func plainTime(t time.Time) bool {
	_, off := t.Zone()
	return t.Year() >= 0 && t.Year() <= 9999 && off%60 == 0
}

// appendJSONString appends s as encoding/json writes a string: quoted,
// with '<', '>' and '&' escaped as well as what JSON requires, and
// invalid UTF-8 replaced. Only a string of plain printable ASCII is
// written here; any other goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// encodeRecordEntry is r as a journal entry: recordEntry, then r as the
// log keeps it (JSON), which it returns too, sharing the entry's bytes.
func encodeRecordEntry(r gateway.Record) (entry, data []byte, err error) {
	buf := bytes.NewBuffer(make([]byte, 0, 1024))
	buf.WriteByte(recordEntry)
	if err := json.NewEncoder(buf).Encode(r); err != nil {
		return nil, nil, err
	}
	entry = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return entry, entry[1:], nil
}
