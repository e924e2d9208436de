package plan

import (
	"strings"
	"testing"
	"time"
)

// FuzzVerifySignature feeds arbitrary armored text to the signature parser
// and verifier, which read signatures from plan files anyone may edit:
// they must refuse, never panic.
func FuzzVerifySignature(f *testing.F) {
	p := samplePlan()
	s := fixedSigner(f, 3)
	armored, err := sshsigSign(s, Namespace, message(p.Digest()))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(armored)
	f.Add(armorBegin + "\nU1NIU0lH\n" + armorEnd)
	f.Add("")
	as, err := ParseAllowedSigners(strings.NewReader("alice "+AuthorizedKey(s.PublicKey())+"\n"), "allowed")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, armored string) {
		q := samplePlan()
		q.Approvals = Policy{}
		q.Steps = nil
		q.Signatures = []Signature{{PublicKey: AuthorizedKey(s.PublicKey()), Armored: armored}}
		_, _ = Verify(q, as, time.Now())
		_ = AddSignature(q, armored)
		_, _ = SignatureKey(armored)
	})
}

// FuzzParseAllowedSigners checks that no allowed-signers line panics the
// parser.
func FuzzParseAllowedSigners(f *testing.F) {
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKFctHzknPV8UE+mZyFguDtk25n5SXfGt69BkIlyC/TF"
	f.Add("alice " + key)
	f.Add(`bob namespaces="git,rebind-*",valid-after="20260101",valid-before="202701011200Z" ` + key + " bob@laptop")
	f.Add(`carol cert-authority,namespaces="a \"q\"" ` + key)
	f.Add(`x namespaces="`)
	f.Fuzz(func(t *testing.T, line string) {
		as, err := ParseAllowedSigners(strings.NewReader(line), "f")
		if err != nil {
			return
		}
		for _, e := range as.Entries {
			if len(e.Principals) == 0 || e.Key == nil {
				t.Fatalf("entry without principal or key from %q", line)
			}
			_, _ = as.Lookup(e.Key, Namespace, time.Now())
		}
	})
}
