package plan

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseAllowedSigners(t *testing.T) {
	alice := AuthorizedKey(newSigner(t, "ed25519").PublicKey())
	bob := AuthorizedKey(newSigner(t, "ecdsa256").PublicKey())
	ca := AuthorizedKey(newSigner(t, "ed25519").PublicKey())
	file := strings.Join([]string{
		"# team",
		"",
		"alice@corp.example.com,alice " + alice + " alice@laptop",
		`bob namespaces="git,rebind-*",valid-after="20260101",valid-before="202701011200Z" ` + bob,
		`*@corp.example.com cert-authority,namespaces="rebind-plan" ` + ca,
		`carol namespaces="a \"quoted\", b" ` + alice,
	}, "\n")
	as, err := ParseAllowedSigners(strings.NewReader(file), "f")
	if err != nil {
		t.Fatal(err)
	}
	if len(as.Entries) != 4 {
		t.Fatalf("%d entries", len(as.Entries))
	}
	a, b, c, d := as.Entries[0], as.Entries[1], as.Entries[2], as.Entries[3]
	if a.Principal() != "alice@corp.example.com" || len(a.Principals) != 2 || a.Line != 3 {
		t.Errorf("alice: %+v", a)
	}
	if strings.Join(b.Namespaces, "|") != "git|rebind-*" || b.ValidBefore != time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC) {
		t.Errorf("bob: %+v", b)
	}
	if !c.CertAuthority {
		t.Errorf("ca: %+v", c)
	}
	if strings.Join(d.Namespaces, "|") != `a "quoted"| b` {
		t.Errorf("carol: %q", d.Namespaces)
	}

	// bob is allowed by pattern "rebind-*", inside his validity window.
	if e, err := as.Lookup(b.Key, Namespace, testNow); err != nil || e.Principal() != "bob" {
		t.Errorf("bob: %v %v", e, err)
	}
	if _, err := as.Lookup(b.Key, Namespace, time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, ErrUnknownSigner) || !strings.Contains(err.Error(), "valid only before") {
		t.Errorf("bob after valid-before: %v", err)
	}
	// A cert-authority line never matches the CA's key as a plain key.
	if _, err := as.Lookup(c.Key, Namespace, testNow); !errors.Is(err, ErrUnknownSigner) {
		t.Errorf("ca key: %v", err)
	}
}

func TestParseAllowedSignersErrors(t *testing.T) {
	key := AuthorizedKey(newSigner(t, "ed25519").PublicKey())
	for _, tt := range []struct{ line, want string }{
		{"alice", `want "principals [options] keytype key"`},
		{"alice ssh-ed25519", "missing key"},
		{"alice ssh-ed25519 !!!", "key: illegal base64"},
		{"alice ssh-rsa " + strings.Fields(key)[1], `key type "ssh-rsa" does not match`},
		{`alice namespaces=rebind-plan ` + key, "value must be in double quotes"},
		{`alice valid-after="2026" ` + key, "option valid-after: time"},
		{`alice namespaces="x ` + key, "unterminated quote"},
	} {
		_, err := ParseAllowedSigners(strings.NewReader("# ok\n"+tt.line+"\n"), "team")
		if err == nil || !strings.Contains(err.Error(), "team:2: ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want team:2: ...%s", tt.line, err, tt.want)
		}
	}
}

func TestMatchPatternList(t *testing.T) {
	for _, tt := range []struct {
		s        string
		patterns string
		want     bool
	}{
		{"rebind-plan", "rebind-plan", true},
		{"rebind-plan", "git,rebind-*", true},
		{"rebind-plan", "rebind-?lan", true},
		{"rebind-plan", "git,file", false},
		{"rebind-plan", "*,!rebind-plan", false},
		{"", "*", true},
	} {
		if got := matchPatternList(tt.s, strings.Split(tt.patterns, ",")); got != tt.want {
			t.Errorf("match(%q, %q) = %v", tt.s, tt.patterns, got)
		}
	}
}
