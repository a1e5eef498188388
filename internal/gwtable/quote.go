package gwtable

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// MaxQuoted is how many bytes of a token an error message quotes: enough to
// recognise it, while a 10 MB token still makes a one-line message.
const MaxQuoted = 80

// Quote quotes a token taken from input for an error message, as %q does:
// control bytes, NUL and invalid UTF-8 are escaped, so nothing in the input
// can start a line or move a terminal's cursor. A token longer than
// MaxQuoted bytes is cut there and the whole length is told:
// "abc"… (10485760 bytes).
func Quote(s string) string { return QuoteLimit(s, MaxQuoted) }

// QuoteLimit is Quote cut at limit bytes rather than MaxQuoted.
func QuoteLimit(s string, limit int) string {
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	// Cut at a rune's start so the last character is not mangled into
	// escapes; invalid UTF-8 cannot move the cut back by more than 3 bytes.
	cut := max(limit, 0)
	for i := 1; i < utf8.UTFMax && cut > 0 && !utf8.RuneStart(s[cut]); i++ {
		cut--
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:cut], len(s))
}
