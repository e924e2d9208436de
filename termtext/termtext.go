// Package termtext makes text that rebind did not write itself safe to show
// to a person: a runbook's title, a note, a file path, an object's name, an
// error a directory returned. Such text can carry characters that act on a
// terminal or on a rendered page instead of being shown: an ESC sequence
// that moves the cursor and erases the lines above it (ESC[8A ESC[J makes a
// reviewer's screen lose the change it was showing), a carriage return that
// overwrites a line, or a Unicode bidi override that reorders what follows
// it (Trojan Source, CVE-2021-42574). Every such character is written as a
// visible escape instead, so a reviewer sees that it is there:
//
//   - C0 controls as \x1b (\n, \r and \t by name), DEL as \x7f;
//   - C1 controls (U+0080-U+009F) as \u009b;
//   - Unicode format characters (bidi embeddings, overrides and isolates,
//     zero-width spaces and joiners, the byte order mark, tag characters),
//     the line and paragraph separators and the fillers that render as
//     blanks, as \u202e;
//   - bytes that are not UTF-8 as \xff.
//
// Backslashes are not escaped: a title that spells "\x1b" shows the same as
// one that holds an ESC, and both are harmless.
//
// Line is for text that must stay on its line (addresses, names, notes,
// table cells); Block keeps newlines and tabs, for text that legitimately
// spans lines (an error's detail, a source file). JSON escapes the same
// characters inside JSON text, where encoding/json already escapes C0
// controls but leaves DEL, C1 controls and format characters raw.
package termtext

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Line returns s with every character that could act on a terminal or
// reorder or hide text written as a visible escape, newlines and tabs
// included, so that s stays on one line.
func Line(s string) string { return escape(s, false) }

// Block is Line for text that spans lines: newlines and tabs are kept (a
// carriage return only as part of CRLF), everything else Line escapes is
// escaped.
func Block(s string) string { return escape(s, true) }

// IsSafe reports whether Block would return s unchanged: s holds no
// character that acts on a terminal other than newline, tab and CRLF.
func IsSafe(s string) bool { return Block(s) == s }

// Hidden reports whether r is a character Line writes as an escape: a
// control character, a format character or another that renders as
// nothing.
func Hidden(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == '\u2028', r == '\u2029':
		// Line and paragraph separators: a line break to some renderers.
		return true
	case r == '\u034f', r == '\u115f', r == '\u1160', r == '\u3164', r == '\uffa0':
		// The combining grapheme joiner and the Hangul fillers render as
		// nothing, or as blanks, yet are not format characters.
		return true
	}
	return r > 0x7f && unicode.Is(unicode.Cf, r)
}

func escape(s string, block bool) string {
	if !needsEscape(s, block) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case block && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case block && r == '\r' && i+1 < len(s) && s[i+1] == '\n':
			b.WriteByte('\r')
		case !Hidden(r):
			b.WriteString(s[i : i+size])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += size
	}
	return b.String()
}

// needsEscape is the fast path: most text has nothing to escape.
func needsEscape(s string, block bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return true
		case block && (r == '\n' || r == '\t'):
		case block && r == '\r' && i+1 < len(s) && s[i+1] == '\n':
		case Hidden(r):
			return true
		}
		i += size
	}
	return false
}

// JSON returns the JSON text b with every character Hidden reports, and
// that encoding/json leaves raw (DEL, C1 controls, format characters,
// fillers), written as a \u escape, and bytes that are not UTF-8 as
// \ufffd (encoding/json writes U+FFFD for them in strings it encodes). The
// result decodes to the same values as b: these characters can only stand
// inside JSON strings, where \u escapes mean them exactly. Whitespace
// between tokens is kept.
func JSON(b []byte) []byte {
	clean := true
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			if b[i] == 0x7f {
				clean = false
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if (r == utf8.RuneError && size == 1) || Hidden(r) {
			clean = false
			break
		}
		i += size
	}
	if clean {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			if b[i] == 0x7f {
				out = append(out, `\u007f`...)
			} else {
				out = append(out, b[i])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			out = append(out, `\ufffd`...)
		case !Hidden(r):
			out = append(out, b[i:i+size]...)
		case r <= 0xffff:
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			r1, r2 := surrogates(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		}
		i += size
	}
	return out
}

// surrogates splits a rune above U+FFFF into its UTF-16 pair.
func surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

// Clip returns s whole when it has at most max characters; otherwise its
// first and last max/2 characters around a note of how long s is, so that
// an error quoting a 10 MB value stays readable and still says what it cut.
func Clip(s string, max int) string {
	if len(s) <= max || utf8.RuneCountInString(s) <= max {
		return s
	}
	n := utf8.RuneCountInString(s)
	half := max / 2
	head, tail := s, s
	for i := range s {
		if half == 0 {
			head = s[:i]
			break
		}
		half--
	}
	half = max / 2
	for j := len(s); j > 0 && half > 0; half-- {
		_, size := utf8.DecodeLastRuneInString(s[:j])
		j -= size
		tail = s[j:]
	}
	return fmt.Sprintf("%s ... [%d characters in all; cut] ... %s", head, n, tail)
}

// Writer returns a writer that passes what it is given through Block
// before writing it to w: for progress lines that quote directory text.
// Each Write should carry whole lines, as fmt.Fprintf does; a character
// split across two writes shows as escaped bytes.
func Writer(w io.Writer) io.Writer { return blockWriter{w} }

type blockWriter struct{ w io.Writer }

func (bw blockWriter) Write(p []byte) (int, error) {
	s := string(p)
	if t := Block(s); t != s {
		if _, err := io.WriteString(bw.w, t); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return bw.w.Write(p)
}
