package plan

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// samplePlan builds a plan by hand with one of each kind of change: a
// data read, an update, a create, an irreversible restore, a fan-out with
// a no-op and a deferred instance, an action, and a delete. Values hold
// UPNs, addresses and GUIDs so that redaction has something to do.
func samplePlan() *Plan {
	created := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	v := func(s string) Value {
		var out Value
		if err := out.UnmarshalJSON([]byte(s)); err != nil {
			panic(err)
		}
		return out
	}
	p := &Plan{
		FormatVersion: FormatVersion,
		Runbook: Runbook{
			Name:        "restore-mistake",
			Title:       "Re-bind a cloud user restored by mistake to its new AD account",
			Description: "Clears the immutable ID of the restored cloud user and lets sync bind it.",
			Digest:      "0f3c1bd8a5f9e0d5a4a1d2c3b4e5f60718293a4b5c6d7e8f9012345678901234",
			Sources:     map[string]string{"main.hcl": "runbook \"restore-mistake\" {\n  approvals = 2\n}\n"},
		},
		Inputs:       map[string]Value{"upn": v(`"alice.smith@contoso.com"`)},
		SecretInputs: []string{"ad_password"},
		Lab:          "http://127.0.0.1:8443",
		Targets: []Target{
			{Type: "entra", Name: "tenant", Config: v(`{}`)},
			{Type: "ad", Name: "corp", Config: v(`{"base_dn":"DC=corp,DC=example,DC=com","url":"ldaps://dc01.corp.example.com"}`)},
		},
		Steps: []Step{
			{
				Address: "data.ad_user.new", Mode: "data", Type: "ad_user", Kind: "data", Reversibility: "reversible",
				Instances: []Instance{{
					Address: "data.ad_user.new", Object: "ad:user:alice.smith@contoso.com", Action: "read",
					Fingerprint: "6b1f0e0c2f7f4c1e9d3a5b7c9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f",
					Observed:    v(`{"object_guid":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","upn":"alice.smith@contoso.com"}`),
				}},
			},
			{
				Address: "step.ad_user_restored.old", Mode: "step", Type: "ad_user_restored", Kind: "ensure",
				Reversibility: "irreversible", IrreversibleReason: "Rollback deletes the restored user again; it becomes a new tombstone, not the original one.",
				Permissions: []string{"AD: reanimate tombstones"},
				Instances: []Instance{{
					Address: "step.ad_user_restored.old", Object: "ad:user:CN=Alice Smith,OU=Staff,DC=corp,DC=example,DC=com", Action: "create",
					After: v(`{"deleted":false,"dn":"CN=Alice Smith,OU=Staff,DC=corp,DC=example,DC=com"}`), Irreversible: true,
				}},
			},
			{
				Address: "step.entra_immutable_id.clear", Mode: "step", Type: "entra_immutable_id", Kind: "ensure", Reversibility: "reversible",
				Permissions: []string{"Graph: User.ReadWrite.All"},
				Instances: []Instance{{
					Address: "step.entra_immutable_id.clear", Object: "entra:user:alice.smith@contoso.com", Action: "update",
					Fingerprint: "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
					Before:      v(`{"immutable_id":"4AUlP4lP0xGaDAMF6CwzAQ==","upn":"alice.smith@contoso.com"}`),
					After:       v(`{"immutable_id":null,"upn":"alice.smith@contoso.com"}`),
				}},
			},
			{
				Address: "step.exo_mail_user.archive", Mode: "step", Type: "exo_mail_user", Kind: "ensure", Reversibility: "reversible",
				Instances: []Instance{
					{Address: `step.exo_mail_user.archive["bob@contoso.com"]`, Key: "bob@contoso.com", Object: "exo:user:bob@contoso.com", Action: "no-op"},
					{Address: `step.exo_mail_user.archive["carol@contoso.com"]`, Key: "carol@contoso.com", Object: "exo:user:carol@contoso.com", Action: ActionDeferred,
						After: v(`{"archive_guid":"(known after apply)","proxy_addresses":["SMTP:carol@contoso.com","smtp:c.jones@contoso.mail.onmicrosoft.com"]}`),
						Notes: []string{"The precondition on archive_guid is checked at apply."}},
				},
			},
			{
				Address: "step.adsync_cycle.initial", Mode: "step", Type: "adsync_cycle", Kind: "action", Reversibility: "irreversible",
				IrreversibleReason: "A sync cycle cannot be taken back; what it exported stays exported.",
				Await:              "3h",
				Instances: []Instance{{
					Address: "step.adsync_cycle.initial", Object: "adsync:connector:corp.example.com", Action: "run",
					After: v(`{"policy":"Initial"}`), Irreversible: true,
				}},
			},
			{
				Address: "step.ad_attribute.stale", Mode: "step", Type: "ad_attribute", Kind: "ensure", Reversibility: "reversible",
				Instances: []Instance{{
					Address: "step.ad_attribute.stale", Object: "ad:user:alice.smith@contoso.com", Action: "delete",
					Before: v(`{"attribute":"msExchArchiveGUID","value":"<script>alert(1)</script> | *not bold*"}`),
				}},
			},
		},
		Permissions: []string{"AD: reanimate tombstones", "Graph: User.ReadWrite.All"},
		Approvals:   Policy{Required: 1, IrreversibleRequired: 2},
		Author:      "dave",
		Created:     created,
		Expires:     created.Add(24 * time.Hour),
	}
	p.StoreObservedOnce()
	return p
}

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fixedSigner is an ed25519 key from a fixed seed: its signatures are the
// same on every run, so golden files can show them.
func fixedSigner(t testing.TB, seed byte) ssh.Signer {
	t.Helper()
	s, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// verifiedBy verifies p against an allowed-signers file that lists s as
// alice@corp.example.com.
func verifiedBy(t *testing.T, p *Plan, s ssh.Signer) *Approval {
	t.Helper()
	as, err := ParseAllowedSigners(strings.NewReader("alice@corp.example.com "+AuthorizedKey(s.PublicKey())+"\n"), "allowed")
	if err != nil {
		t.Fatal(err)
	}
	ap, err := Verify(p, as, testNow)
	if err != nil && !errors.Is(err, ErrTooFewApprovals) {
		t.Fatal(err)
	}
	return &ap
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendering (run go test -update to accept it):\n%s", path, got)
	}
}

func TestRenderMarkdownGolden(t *testing.T) {
	signed := samplePlan()
	alice := fixedSigner(t, 1)
	if _, err := Sign(signed, alice, testNow); err != nil {
		t.Fatal(err)
	}
	signed.Signatures[0].Signer = "alice@corp.example.com" // as rebind approve records it
	for _, tt := range []struct {
		name string
		p    *Plan
		opt  RenderOptions
	}{
		{"sample.md.golden", samplePlan(), RenderOptions{PlanFile: "restore.plan"}},
		{"sample-redacted.md.golden", samplePlan(), RenderOptions{Redact: true}},
		{"sample-unverified.md.golden", signed, RenderOptions{}},
		{"sample-signed.md.golden", signed, RenderOptions{PlanFile: "restore.plan", Approval: verifiedBy(t, signed, alice)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := RenderMarkdown(&buf, tt.p, tt.opt); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name, buf.Bytes())
		})
	}
}

func TestRenderMarkdownEscapes(t *testing.T) {
	p := samplePlan()
	p.Runbook.Title = "<img src=x onerror=alert(1)> [click](http://evil) @everyone"
	p.Steps[2].Instances[0].Notes = []string{"a `code` | pipe\nand a new line"}
	var buf bytes.Buffer
	if err := RenderMarkdown(&buf, p, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	unescaped := strings.NewReplacer(`\<`, "", `\[`, "", `\@`, "").Replace(out)
	for _, bad := range []string{"<img", "[click](", " @everyone"} {
		if strings.Contains(unescaped, bad) {
			t.Errorf("markdown carries %q unescaped", bad)
		}
	}
	// Values are code spans, where markup is inert.
	if !strings.Contains(out, "`\"<script>alert(1)</script> \\| *not bold*\"`") {
		t.Errorf("value not shown as a code span:\n%s", out)
	}
	// The line break shows as \n (escaped for Markdown as \\n), so the
	// note stays in its line and a reviewer sees it was there.
	if !strings.Contains(out, `a \`+"`"+`code\`+"`"+` \| pipe\\nand a new line`) {
		t.Errorf("note not escaped onto one line:\n%s", out)
	}
	// Every table row has the header's five cells.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| `step.") || strings.HasPrefix(line, "|  |") {
			cells := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
			if cells != 6 {
				t.Errorf("row with %d cell borders, want 6: %s", cells, line)
			}
		}
	}
}

func TestRenderMarkdownRedactKeepsTheDigest(t *testing.T) {
	p := samplePlan()
	var buf bytes.Buffer
	if err := RenderMarkdown(&buf, p, RenderOptions{Redact: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), p.Digest()) {
		t.Error("the redacted rendering does not show the plan's digest")
	}
	if strings.Contains(buf.String(), "alice.smith") {
		t.Error("the redacted rendering shows a UPN")
	}
}
