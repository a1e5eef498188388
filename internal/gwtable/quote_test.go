package gwtable

import (
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	long := strings.Repeat("a", 10<<20)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"plain", "eastus2", `"eastus2"`},
		{"empty", "", `""`},
		{"control bytes", "a\x00b\nc\x1b[31md\r", `"a\x00b\nc\x1b[31md\r"`},
		{"invalid UTF-8", "\xff\xfe", `"\xff\xfe"`},
		{"line separator and bidi override", "a\u2028b\u202ec", `"a\u2028b\u202ec"`},
		{"printable non-ASCII", "Japan East、", `"Japan East、"`},
		{"exactly the limit", strings.Repeat("b", MaxQuoted), `"` + strings.Repeat("b", MaxQuoted) + `"`},
		{"one byte over", strings.Repeat("b", MaxQuoted+1), `"` + strings.Repeat("b", MaxQuoted) + `"… (81 bytes)`},
		{"10 MB", long, `"` + strings.Repeat("a", MaxQuoted) + `"… (10485760 bytes)`},
		// The cut falls inside a three-byte rune: it moves back to its start.
		{"cut at a rune", strings.Repeat("c", MaxQuoted-1) + "、x", `"` + strings.Repeat("c", MaxQuoted-1) + `"… (83 bytes)`},
		{"continuation bytes", strings.Repeat("\x80", 100), `"` + strings.Repeat(`\x80`, MaxQuoted-3) + `"… (100 bytes)`},
		{"NUL bytes", strings.Repeat("\x00", 100), `"` + strings.Repeat(`\x00`, MaxQuoted) + `"… (100 bytes)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Quote(tc.in); got != tc.want {
				t.Errorf("Quote(%.40q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
	if got := QuoteLimit("Host 'x'\nis blocked", 8); got != `"Host 'x'"… (19 bytes)` {
		t.Errorf("QuoteLimit: %s", got)
	}
}

func TestQuoteUnlessPlain(t *testing.T) {
	url := "https://download.microsoft.com/download/7/1/d/71d86715-5596-4529-9b13-da13a5de5b63/ServiceTags_Public_20260928.json"
	for _, tc := range []struct{ in, want string }{
		{url, url},
		{"", ""},
		{url + "\n2026-01-01T00:00:00Z wrote", Quote(url + "\n2026-01-01T00:00:00Z wrote")},
		{"a\x1b[2J", `"a\x1b[2J"`},
		{"café", `"café"`},
		{strings.Repeat("a", 201), `"` + strings.Repeat("a", MaxQuoted) + `"… (201 bytes)`},
	} {
		if got := QuoteUnlessPlain(tc.in, 200); got != tc.want {
			t.Errorf("QuoteUnlessPlain(%.40q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestEscapeControls(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Public", "Public"},
		{"Japan East、 é", "Japan East、 é"},
		{"a\n2026-01-01T00:00:00Z wrote\x1b[2J\r\x00\x7f\u0085\u2028\u2029b", `a\n2026-01-01T00:00:00Z wrote\x1b[2J\r\x00\x7f\u0085\u2028\u2029b`},
	} {
		if got := EscapeControls(tc.in); got != tc.want {
			t.Errorf("EscapeControls(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestListed: a message names at most MaxListed items and counts the rest.
func TestListed(t *testing.T) {
	if got := Listed([]string{"a", "b"}); got != "a b" {
		t.Errorf("Listed of two = %q", got)
	}
	if got := Listed([]int(nil)); got != "" {
		t.Errorf("Listed of none = %q", got)
	}
	many := make([]int, MaxListed+5)
	if got, want := Listed(many), strings.TrimSpace(strings.Repeat("0 ", MaxListed))+" and 5 more"; got != want {
		t.Errorf("Listed of %d items = %q, want %q", len(many), got, want)
	}
}
