package gateway

import (
	"errors"
	"testing"
	"time"
)

func TestPolicyCheck(t *testing.T) {
	good := []Policy{
		{},
		{Unpriced: UnpricedEstimate, UnpricedHold: Dollar, AllowedOrigins: []string{"http://localhost:5173", "https://app.example/"},
			StreamSlice: 4096, BackgroundHold: time.Hour, Loop: LoopPolicy{Limit: 5, Window: time.Minute}, RPM: map[string]int{"ci": 60}},
	}
	for _, pol := range good {
		if err := pol.Check(); err != nil {
			t.Errorf("Check(%+v) = %v, want nil", pol, err)
		}
	}
	bad := []Policy{
		{Unpriced: "guess"},
		{Unpriced: UnpricedEstimate},
		{AllowedOrigins: []string{"localhost:5173"}},
		{AllowedOrigins: []string{"http://localhost:5173/app"}},
		{AllowedOrigins: []string{"http://localhost:5173?x=1"}},
		{StreamSlice: -1},
		{BackgroundHold: -time.Hour},
		{Loop: LoopPolicy{Limit: MaxLoopLimit + 1}},
		{Loop: LoopPolicy{Limit: -1}},
		{Loop: LoopPolicy{Window: MaxLoopWindow + time.Second}},
		{RPM: map[string]int{"ci": -1}},
	}
	for _, pol := range bad {
		if err := pol.Check(); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("Check(%+v) = %v, want ErrInvalidPolicy", pol, err)
		}
	}
}
