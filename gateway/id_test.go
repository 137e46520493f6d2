package gateway

import (
	"fmt"
	"testing"
	"time"
)

// TestNewID: an id is 24 lowercase hex digits, the first 16 the start's
// Unix nanoseconds (so ids sort by time), and the random tail differs
// between ids made at the same instant.
func TestNewID(t *testing.T) {
	at := time.Unix(1764530000, 123456789)
	seen := map[string]bool{}
	for range 1000 {
		id := NewID(at)
		if len(id) != 24 {
			t.Fatalf("id %q has %d characters, want 24", id, len(id))
		}
		if want := fmt.Sprintf("%016x", at.UnixNano()); id[:16] != want {
			t.Fatalf("id %q starts %q, want %q", id, id[:16], want)
		}
		for _, c := range id {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				t.Fatalf("id %q is not lowercase hex", id)
			}
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
	}
	if a, b := NewID(at), NewID(at.Add(time.Nanosecond)); a[:16] >= b[:16] {
		t.Fatalf("ids do not sort by time: %q then %q", a, b)
	}
}
