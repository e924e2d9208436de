package plan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// A change far into a long value must show: the renderings used to cut
// both sides at 200 characters and compare the cut forms, so an update
// that differed only after them was not listed at all.
func TestLongValuesShowWhereTheyDiffer(t *testing.T) {
	prefix := strings.Repeat("é", 300) // multi-byte: a cut must not split one
	before, after := prefix+"old-tail", prefix+"new-tail"
	bj, _ := json.Marshal(map[string]string{"content": before})
	aj, _ := json.Marshal(map[string]string{"content": after})
	p := samplePlan()
	p.Steps[0].Instances[0].Action = "update"
	p.Steps[0].Instances[0].Before = Value(bj)
	p.Steps[0].Instances[0].After = Value(aj)

	var text bytes.Buffer
	if err := RenderText(&text, p, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := RenderMarkdown(&md, p, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
		if !utf8.ValidString(out) {
			t.Errorf("%s: not valid UTF-8 after cutting", name)
		}
		if !strings.Contains(out, "old-tail") || !strings.Contains(out, "new-tail") {
			t.Errorf("%s does not show the difference:\n%s", name, out)
		}
		if !strings.Contains(out, "characters] ...") || strings.Contains(out, prefix) {
			t.Errorf("%s does not cut the common beginning, saying so:\n%s", name, out)
		}
	}

	var full bytes.Buffer
	if err := RenderText(&full, p, TextOptions{Full: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(full.String(), prefix+"new-tail") {
		t.Error("--full does not show the whole value")
	}
}

func TestShownValueCuts(t *testing.T) {
	long := strings.Repeat("a", 250)
	got := shownValue(long, false)
	if got != `"`+strings.Repeat("a", 199)+"... [52 more characters; rebind show --full]" {
		t.Errorf("shownValue(250 a) = %q", got)
	}
	if got := shownValue(long, true); got != `"`+long+`"` {
		t.Errorf("full = %q", got)
	}
	if got := shownValue("<b>&", false); got != `"<b>&"` {
		t.Errorf("shownValue escapes for HTML itself: %q (the renderers escape for their format)", got)
	}
	if b, a := shownPair(`"short"`, `"also short"`, false); b != `"short"` || a != `"also short"` {
		t.Errorf("short values cut: %q %q", b, a)
	}
}
