package plan

import (
	"strings"
	"testing"
)

func TestRedactString(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"alice.smith@contoso.com", "a***@contoso.com"},
		{"SMTP:carol@contoso.com", "SMTP:c***@contoso.com"},
		{`step.x["bob@contoso.com"]`, `step.x["b***@contoso.com"]`},
		{"a@contoso.com", "***@contoso.com"},
		{"CN=Alice Smith,OU=Staff,DC=corp,DC=example,DC=com", "CN=A***,OU=Staff,DC=corp,DC=example,DC=com"},
		{`CN=Smith\, Alice,OU=Staff`, "CN=S***,OU=Staff"},
		{"3f2504e0-4f89-11d3-9a0c-0305e82c3301", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
		{"4AUlP4lP0xGaDAMF6CwzAQ==", "4AUlP4lP0xGaDAMF6CwzAQ=="},
		{"no address here, just @handles and a@b", "no address here, just @handles and a@b"},
	} {
		if got := RedactString(tt.in); got != tt.want {
			t.Errorf("RedactString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactPlan(t *testing.T) {
	p := samplePlan()
	p.Steps[2].Instances[0].Before = Value(`{"display_name":"Alice Smith","immutable_id":"4AUlP4lP0xGaDAMF6CwzAQ==","upn":"alice.smith@contoso.com"}`)
	digest := p.Digest()
	r := Redact(p)
	if p.Digest() != digest {
		t.Fatal("Redact changed the plan it was given")
	}
	b := string(r.CanonicalBytes())
	for _, leak := range []string{"alice.smith", "Alice Smith", "carol@", "bob@", "c.jones"} {
		if strings.Contains(b, leak) {
			t.Errorf("redacted plan still shows %q", leak)
		}
	}
	for _, kept := range []string{"@contoso.com", "4AUlP4lP0xGaDAMF6CwzAQ==", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", `"display_name":"A***"`, Unknown} {
		if !strings.Contains(b, kept) {
			t.Errorf("redacted plan lost %q", kept)
		}
	}
}
