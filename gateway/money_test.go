package gateway

import "testing"

func TestMoneyFormat(t *testing.T) {
	tests := []struct {
		m    Money
		want string
	}{
		{0, "$0.00"},
		{Dollar, "$1.00"},
		{1234 * Dollar / 1000, "$1.234"},
		{Dollar / 100, "$0.01"},
		{11685 * Microdollar, "$0.0117"},
		{31 * Dollar / 10000, "$0.0031"},
		{Microdollar, "$0.000001"},
		{210 * Microdollar, "$0.00021"},
		{Microdollar / 1000, "<$0.000001"},
		{-5 * Dollar / 2, "-$2.50"},
		{5 * Dollar, "$5.00"},
		{12345 * Dollar / 100, "$123.45"},
	}
	for _, tt := range tests {
		if got := tt.m.Format(); got != tt.want {
			t.Errorf("Money(%d).Format() = %q, want %q", int64(tt.m), got, tt.want)
		}
	}
}

func TestMoneyStringAndParse(t *testing.T) {
	for _, s := range []string{"0", "1", "0.000000000001", "12.5", "-0.25", "9000000"} {
		m, err := ParseMoney(s)
		if err != nil || m.String() != s {
			t.Errorf("ParseMoney(%q) = %v (%q), %v; want it back", s, int64(m), m.String(), err)
		}
	}
	for _, s := range []string{"", "abc", "1e3", "1/2", "0.0000000000001"} {
		if _, err := ParseMoney(s); err == nil {
			t.Errorf("ParseMoney(%q) succeeded, want an error", s)
		}
	}
}
