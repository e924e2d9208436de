package anchor

import (
	"bytes"
	"errors"
	"testing"
)

// The vectors are the ones in DOMAIN.md, the second from Microsoft's
// Guid.ToByteArray documentation.
func TestImmutableIDVectors(t *testing.T) {
	cases := []struct{ guid, id string }{
		{"1effbc1e-4aa3-4f9d-a508-d4d81f1f5873", "Hrz/HqNKnU+lCNTYHx9Ycw=="},
		{"35918bc9-196d-40ea-9779-889d79b753f0", "yYuRNW0Z6kCXeYidebdT8A=="},
		{"eace17cf-75f1-4198-ba66-e7c54a5ce5d2", "zxfO6vF1mEG6ZufFSlzl0g=="},
	}
	for _, c := range cases {
		got, err := ImmutableIDFromGUID(c.guid)
		if err != nil || got != c.id {
			t.Errorf("ImmutableIDFromGUID(%s) = %q, %v; want %q", c.guid, got, err, c.id)
		}
		g, err := FromImmutableID(c.id)
		if err != nil || g.String() != c.guid {
			t.Errorf("FromImmutableID(%s) = %s, %v; want %s", c.id, g, err, c.guid)
		}
	}
}

func TestBytesLayout(t *testing.T) {
	g, err := ParseGUID("{1EFFBC1E-4AA3-4F9D-A508-D4D81F1F5873}")
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x1e, 0xbc, 0xff, 0x1e, 0xa3, 0x4a, 0x9d, 0x4f, 0xa5, 0x08, 0xd4, 0xd8, 0x1f, 0x1f, 0x58, 0x73}
	if !bytes.Equal(g.Bytes(), want) {
		t.Fatalf("Bytes() = % x, want % x", g.Bytes(), want)
	}
	back, err := FromBytes(want)
	if err != nil || back != g {
		t.Fatalf("FromBytes round trip = %s, %v", back, err)
	}
	if g.ImmutableID() == "Hv+8HkqjT52lCNTYHx9Ycw==" {
		t.Fatal("ImmutableID used RFC 4122 byte order")
	}
	if got := g.EscapeFilter(); got != `\1e\bc\ff\1e\a3\4a\9d\4f\a5\08\d4\d8\1f\1f\58\73` {
		t.Fatalf("EscapeFilter() = %s", got)
	}
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{"", "not-a-guid", "1effbc1e4aa34f9da508d4d81f1f5873", "1effbc1e-4aa3-4f9d-a508-d4d81f1f587z"} {
		if _, err := ParseGUID(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseGUID(%q) err = %v, want ErrInvalid", s, err)
		}
	}
	for _, s := range []string{"E12345", "!!!", "AAAA"} {
		if _, err := FromImmutableID(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("FromImmutableID(%q) err = %v, want ErrInvalid", s, err)
		}
	}
	if _, err := FromBytes(make([]byte, 15)); !errors.Is(err, ErrInvalid) {
		t.Errorf("FromBytes(15 bytes) err = %v", err)
	}
}

func FuzzImmutableID(f *testing.F) {
	f.Add("Hrz/HqNKnU+lCNTYHx9Ycw==")
	f.Add("yYuRNW0Z6kCXeYidebdT8A==")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		g, err := FromImmutableID(s)
		if err != nil {
			return
		}
		if g2, err := ParseGUID(g.String()); err != nil || g2 != g {
			t.Fatalf("GUID %s does not round trip: %v", g, err)
		}
		if _, err := FromImmutableID(g.ImmutableID()); err != nil {
			t.Fatalf("ImmutableID of %s does not decode: %v", g, err)
		}
	})
}

func FuzzParseGUID(f *testing.F) {
	f.Add("1effbc1e-4aa3-4f9d-a508-d4d81f1f5873")
	f.Add("{35918BC9-196D-40EA-9779-889D79B753F0}")
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGUID(s)
		if err != nil {
			return
		}
		back, err := FromImmutableID(g.ImmutableID())
		if err != nil || back != g {
			t.Fatalf("%q: immutable ID round trip gave %s, %v", s, back, err)
		}
	})
}
