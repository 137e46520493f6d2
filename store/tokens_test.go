package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/gateway"
	bolt "go.etcd.io/bbolt"
)

func TestTokenLifecycle(t *testing.T) {
	clock := newClock(t0)
	db, path := openTest(t, Options{Now: clock.Now})
	ctx := context.Background()

	secret, err := db.NewToken("ci")
	if err != nil {
		t.Fatalf("NewToken(ci) = %v", err)
	}
	rest, ok := strings.CutPrefix(secret, "sk-sluice-")
	if !ok || len(rest) < 32 || strings.IndexFunc(rest, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) >= 0 {
		t.Errorf("NewToken(ci) = %q, want sk-sluice- and 32+ base62 characters", secret)
	}
	other, err := db.NewToken("laptop")
	if err != nil || other == secret {
		t.Fatalf("NewToken(laptop) = %q, %v; want a different secret", other, err)
	}
	if _, err := db.NewToken("ci"); !errors.Is(err, ErrExists) {
		t.Errorf("NewToken(ci) again = %v, want ErrExists", err)
	}
	for _, bad := range []string{"", "has space", "client key", strings.Repeat("x", 65), "ünï"} {
		if _, err := db.NewToken(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewToken(%q) = %v, want ErrInvalid", bad, err)
		}
	}

	// The secret is not in the file, only its hash.
	err = db.bolt.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if strings.Contains(string(v), rest) || strings.Contains(string(k), rest) {
					t.Errorf("bucket %s holds the secret", name)
				}
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}

	clock.Add(time.Minute)
	if name, err := db.Token(ctx, secret); name != "ci" || err != nil {
		t.Errorf("Token(secret) = %q, %v, want ci, nil", name, err)
	}
	for _, bad := range []string{"", "sk-sluice-", secret + "x", "sk-proj-abc", strings.ToUpper(secret)} {
		if _, err := db.Token(ctx, bad); !errors.Is(err, gateway.ErrUnknownToken) {
			t.Errorf("Token(%q) = %v, want ErrUnknownToken", bad, err)
		}
	}
	list, _ := db.Tokens()
	if len(list) != 2 || list[0].Name != "ci" || !list[0].Created.Equal(t0) || !list[0].LastUsed.Equal(t0.Add(time.Minute)) || !list[1].LastUsed.IsZero() {
		t.Errorf("Tokens() = %+v, want ci (used at +1m) and laptop (never used)", list)
	}

	// Last use reaches the file by Close at the latest.
	db.Close()
	db = openAt(t, path, Options{Now: clock.Now})
	list, _ = db.Tokens()
	if len(list) != 2 || !list[0].LastUsed.Equal(t0.Add(time.Minute)) {
		t.Errorf("reopened Tokens() = %+v, want ci last used at +1m", list)
	}
	if name, err := db.Token(ctx, secret); name != "ci" || err != nil {
		t.Errorf("reopened Token(secret) = %q, %v, want ci, nil", name, err)
	}

	if err := db.DeleteToken("ci"); err != nil {
		t.Fatalf("DeleteToken(ci) = %v", err)
	}
	if _, err := db.Token(ctx, secret); !errors.Is(err, gateway.ErrUnknownToken) {
		t.Errorf("Token(deleted) = %v, want ErrUnknownToken", err)
	}
	if err := db.DeleteToken("ci"); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteToken(ci) again = %v, want ErrNotFound", err)
	}
	// A new token of the old name has a new secret; a flush of the old
	// one's last use does not touch it.
	secret2, err := db.NewToken("ci")
	if err != nil || secret2 == secret {
		t.Fatalf("NewToken(ci) after delete = %q, %v", secret2, err)
	}
	if err := db.flushTokens(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openAt(t, path, Options{Now: clock.Now})
	list, _ = db.Tokens()
	if len(list) != 2 || list[0].Name != "ci" || !list[0].LastUsed.IsZero() {
		t.Errorf("Tokens() = %+v, want a never-used ci", list)
	}
	if _, err := db.Token(ctx, secret); !errors.Is(err, gateway.ErrUnknownToken) {
		t.Errorf("Token(old secret) = %v, want ErrUnknownToken", err)
	}
	if name, _ := db.Token(ctx, secret2); name != "ci" {
		t.Errorf("Token(new secret) = %q, want ci", name)
	}
}

func TestTokenConcurrentUse(t *testing.T) {
	db, _ := openTest(t, Options{})
	secret, err := db.NewToken("ci")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if name, err := db.Token(context.Background(), secret); name != "ci" || err != nil {
					t.Errorf("Token = %q, %v", name, err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if err := db.flushTokens(); err != nil {
				t.Error(err)
			}
			db.Tokens()
		}
	})
	wg.Wait()
}
