package app

import (
	"context"
	"errors"
	"testing"

	"github.com/sluicehq/sluice/gateway"
	"github.com/sluicehq/sluice/store"
)

// TestAppTokensApart: the in-memory tokens of the dashboard's and the
// command line's prompt calls are local tokens with names no stored token
// can take, so a user's own token called "cli" is another token, with
// records and budgets of its own.
func TestAppTokensApart(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	mine, err := db.NewToken(FromCLI)
	if err != nil {
		t.Fatal(err)
	}
	tokens := newAppTokens(db)
	for _, from := range []string{FromDashboard, FromCLI} {
		secret, ok := tokens.secret(from)
		if !ok || !gateway.IsLocalToken(secret) {
			t.Fatalf("secret(%s) = %q, %v, want a local token", from, secret, ok)
		}
		name, err := tokens.Token(ctx, secret)
		if err != nil || name != "("+from+")" {
			t.Errorf("Token(the %s secret) = %q, %v, want (%s)", from, name, err, from)
		}
		if _, err := db.NewToken(name); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("NewToken(%q) = %v, want ErrInvalid: a stored token must not take an in-memory token's name", name, err)
		}
	}
	if name, err := tokens.Token(ctx, mine); err != nil || name != FromCLI {
		t.Errorf("Token(the user's token cli) = %q, %v, want cli", name, err)
	}
	if _, ok := tokens.secret("other"); ok {
		t.Errorf("secret(other) found a token")
	}
}
