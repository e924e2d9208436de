package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rebind-dev/rebind/termtext"
)

// maxShown is how many characters of a value the text, Markdown and HTML
// renderings show unless asked for whole values.
const maxShown = 200

// valueJSON is v as JSON, as typed (no \u003c for '<': the renderers
// escape for their own format), with every control, bidi and invisible
// character in a string written as a \u escape (termtext.JSON), so that a
// value shows what it holds. The unknown marker shows bare.
func valueJSON(v any) string {
	if s, ok := v.(string); ok && s == Unknown {
		return s
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(string(termtext.JSON(buf.Bytes())), "\n")
}

// shownValue is v as a rendering shows it: whole when full, else cut at
// maxShown characters with a note of how many more there are.
func shownValue(v any, full bool) string {
	s, _ := shownPair(valueJSON(v), "", full)
	return s
}

// shownPair renders a value before and after a change. When either is
// longer than maxShown (and not full), both are cut around the first
// character where they differ, so that a change far into a long value
// still shows, and each cut says how much it left out. Compare the whole
// values, not these, to tell whether anything changed.
func shownPair(before, after string, full bool) (string, string) {
	b, a := []rune(before), []rune(after)
	if full || (len(b) <= maxShown && len(a) <= maxShown) {
		return before, after
	}
	start := 0
	if after != "" && before != "" && before != after {
		i := 0
		for i < len(b) && i < len(a) && b[i] == a[i] {
			i++
		}
		if i > maxShown/2 {
			start = i - maxShown/4
		}
	}
	return window(b, start), window(a, start)
}

// window shows r from start, at most maxShown characters, with what it
// leaves out said at either end.
func window(r []rune, start int) string {
	if len(r) <= maxShown && start == 0 {
		return string(r)
	}
	if start > len(r) {
		start = len(r)
	}
	end := min(len(r), start+maxShown)
	var sb strings.Builder
	if start > 0 {
		fmt.Fprintf(&sb, "[%d characters] ...", start)
	}
	sb.WriteString(string(r[start:end]))
	if end < len(r) {
		fmt.Fprintf(&sb, "... [%d more characters; rebind show --full]", len(r)-end)
	}
	return sb.String()
}
