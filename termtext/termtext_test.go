package termtext

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain text, 100% ASCII", "plain text, 100% ASCII"},
		{"Ünïcödé ok: 日本語, emoji 🙂", "Ünïcödé ok: 日本語, emoji 🙂"},
		{"\x1b[8A\x1b[J", `\x1b[8A\x1b[J`},
		{"a\nb\r\tc", `a\nb\r\tc`},
		{"del\x7f nul\x00", `del\x7f nul\x00`},
		{"csi\u009b2J nel\u0085", `csi\u009b2J nel\u0085`},
		{"admin\u202e\u2066txt.exe\u2069\u202c", `admin\u202e\u2066txt.exe\u2069\u202c`},
		{"zero\u200bwidth\ufeff", `zero\u200bwidth\ufeff`},
		{"line\u2028sep", `line\u2028sep`},
		{"filler\u3164", `filler\u3164`},
		{"tag\U000e0041", `tag\U000e0041`},
		{"bad \xff\xfe utf-8", `bad \xff\xfe utf-8`},
		{`a literal \x1b stays`, `a literal \x1b stays`},
	} {
		if got := Line(c.in); got != c.want {
			t.Errorf("Line(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestBlock(t *testing.T) {
	in := "first\n\tsecond\r\nthird\rover\x1b[2K\u202e"
	want := "first\n\tsecond\r\nthird\\rover\\x1b[2K\\u202e"
	if got := Block(in); got != want {
		t.Errorf("Block = %q, want %q", got, want)
	}
	if IsSafe(in) || !IsSafe("a\nb\tc\r\n") {
		t.Error("IsSafe is wrong")
	}
}

// TestEveryHiddenCharacter checks the whole of Unicode: whatever Line
// returns holds no character that acts on a terminal or hides text.
func TestEveryHiddenCharacter(t *testing.T) {
	var all strings.Builder
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if utf8.ValidRune(r) {
			all.WriteRune(r)
		}
	}
	out := Line(all.String())
	for _, r := range out {
		if Hidden(r) {
			t.Fatalf("Line left %U", r)
		}
	}
	for _, r := range []rune{0x1b, 0x9b, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c} {
		if !Hidden(r) {
			t.Errorf("%U is not hidden", r)
		}
	}
}

func TestJSON(t *testing.T) {
	v := map[string]string{"title": "x\x1b[8A\x7f\u009b\u202e\u2066y\U000e0041 ok 日本"}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out := JSON(b)
	for _, bad := range []string{"\x1b", "\x7f", "\u009b", "\u202e", "\u2066", "\U000e0041"} {
		if bytes.Contains(out, []byte(bad)) {
			t.Errorf("JSON left %q raw: %s", bad, out)
		}
	}
	if !bytes.Contains(out, []byte(`\u202e`)) || !bytes.Contains(out, []byte(`\udb40\udc41`)) {
		t.Errorf("JSON = %s", out)
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back["title"] != v["title"] {
		t.Errorf("JSON changed the value: %q, want %q", back["title"], v["title"])
	}
	clean := []byte("{\n  \"a\": \"b\"\n}\n")
	if got := JSON(clean); !bytes.Equal(got, clean) {
		t.Errorf("JSON changed clean text: %q", got)
	}
}

func TestClip(t *testing.T) {
	if got := Clip("short", 10); got != "short" {
		t.Errorf("Clip = %q", got)
	}
	long := "<" + strings.Repeat("é", 10<<20) + ">"
	got := Clip(long, 200)
	if len(got) > 600 {
		t.Fatalf("Clip kept %d bytes", len(got))
	}
	if !strings.HasPrefix(got, "<é") || !strings.HasSuffix(got, "é>") || !strings.Contains(got, "10485762 characters in all") {
		t.Errorf("Clip = %q", got)
	}
	if !utf8.ValidString(got) {
		t.Error("Clip cut a character in two")
	}
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := Writer(&buf)
	line := []byte("  x step.a[\"\x1b[2K\"]: failed\n")
	if n, err := w.Write(line); err != nil || n != len(line) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if got, want := buf.String(), "  x step.a[\"\\x1b[2K\"]: failed\n"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
}
