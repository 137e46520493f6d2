package gateway

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// Money is an amount of US dollars counted in picodollars (1e-12 USD).
//
// Integer picodollars make every per-token price of every current model
// exact: $0.0375 per million tokens is 37,500 picodollars per token. An
// int64 holds a little over nine million dollars, far more than one
// developer's ledger will ever see.
type Money int64

// Units of Money.
const (
	Microdollar Money = 1_000_000
	Dollar      Money = 1_000_000_000_000
)

// String returns m as an exact decimal number of dollars with no trailing
// zeros: "0.000123", "12", "-0.5".
func (m Money) String() string {
	var buf [32]byte
	return string(m.appendText(buf[:0]))
}

// appendText appends String() to b, without fmt or intermediate strings:
// encoding a record encodes a dozen amounts, a price row's rates more.
func (m Money) appendText(b []byte) []byte {
	u := uint64(m)
	if m < 0 {
		u = uint64(-m)
		b = append(b, '-')
	}
	whole := u / uint64(Dollar)
	frac := u % uint64(Dollar)
	b = strconv.AppendUint(b, whole, 10)
	if frac != 0 {
		var d [12]byte
		for i := len(d) - 1; i >= 0; i-- {
			d[i] = byte('0' + frac%10)
			frac /= 10
		}
		n := len(d)
		for d[n-1] == '0' {
			n--
		}
		b = append(b, '.')
		b = append(b, d[:n]...)
	}
	return b
}

// Format returns m for people: at least two decimals ("$5.00"), up to
// four below $100 ("$0.0117", "$12.3456") and up to six below a cent
// ("$0.000001"), so that neither a small amount nor a difference that
// matters reads as something else.
func (m Money) Format() string {
	abs := m
	sign := ""
	if abs < 0 {
		abs, sign = -abs, "-"
	}
	d := float64(abs) / float64(Dollar)
	var s string
	switch {
	case abs == 0:
		return "$0.00"
	case abs < Dollar/100:
		s = fmt.Sprintf("%.6f", d)
		if strings.TrimRight(s, "0.") == "" {
			return sign + "<$0.000001"
		}
	case abs < 100*Dollar:
		s = fmt.Sprintf("%.4f", d)
	default:
		s = fmt.Sprintf("%.2f", d)
	}
	whole, frac, _ := strings.Cut(s, ".")
	frac = strings.TrimRight(frac, "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return sign + "$" + whole + "." + frac
}

// ErrBadMoney is returned by ParseMoney for text that is not an amount.
var ErrBadMoney = errors.New("not an amount of dollars")

// ParseMoney parses a decimal number of dollars such as "5", "0.25" or
// "$1.50". Digits past the picodollar are an error, not silently dropped.
func ParseMoney(s string) (Money, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(t, "$")
	r, ok := new(big.Rat).SetString(t)
	if !ok || t == "" || strings.ContainsAny(t, "/eE") {
		return 0, fmt.Errorf("parse %q: %w", s, ErrBadMoney)
	}
	r.Mul(r, new(big.Rat).SetInt64(int64(Dollar)))
	if !r.IsInt() {
		return 0, fmt.Errorf("parse %q: finer than a picodollar: %w", s, ErrBadMoney)
	}
	n := r.Num()
	if !n.IsInt64() {
		return 0, fmt.Errorf("parse %q: too large: %w", s, ErrBadMoney)
	}
	return Money(n.Int64()), nil
}

// MarshalText encodes m as its exact decimal string, so JSON never carries
// money as a float.
func (m Money) MarshalText() ([]byte, error) { return m.appendText(make([]byte, 0, 24)), nil }

// AppendText appends the text MarshalText returns to b.
func (m Money) AppendText(b []byte) ([]byte, error) { return m.appendText(b), nil }

// UnmarshalText decodes an exact decimal string.
func (m *Money) UnmarshalText(b []byte) error {
	v, err := ParseMoney(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}
