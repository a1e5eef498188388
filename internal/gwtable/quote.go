package gwtable

import (
	"fmt"
	"strconv"
	"strings"
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

// QuoteUnlessPlain returns s as it is when it is printable ASCII of at most
// limit bytes, which no reader or terminal can misread, and Quote(s)
// otherwise: for text from the network that is usually tame, a URL or an
// error from the HTTP client, so that the usual case reads as it is.
func QuoteUnlessPlain(s string, limit int) string {
	if len(s) > limit {
		return Quote(s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' {
			return Quote(s)
		}
	}
	return s
}

// EscapeControls writes each control character of s as Go escapes it (\n,
// \x1b, \u2028) and leaves the rest, printable text of any script, as it
// is: for a line that must stay one line on a terminal or in a log, such
// as a comment the importer writes or a line of fetch -every's log.
func EscapeControls(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isControl reports a rune that moves a terminal's cursor or ends a line:
// C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
func isControl(r rune) bool {
	return r < ' ' || r >= 0x7f && r < 0xa0 || r == '\u2028' || r == '\u2029'
}

// MaxListed is how many items of a list one message names; a table can hold
// thousands, and the rest are counted.
const MaxListed = 20

// Listed writes items space-separated, at most MaxListed of them, then how
// many more: "a b c", or "a b … t and 5 more".
func Listed[T any](items []T) string {
	var b strings.Builder
	for i, x := range items {
		if i == MaxListed {
			fmt.Fprintf(&b, " and %d more", len(items)-i)
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, x)
	}
	return b.String()
}
