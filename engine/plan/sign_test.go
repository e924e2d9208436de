package plan

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

var testNow = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// newSigner makes a fresh key of kind ed25519, rsa, ecdsa256, ecdsa384 or
// ecdsa521.
func newSigner(t *testing.T, kind string) ssh.Signer {
	t.Helper()
	var key any
	var err error
	switch kind {
	case "ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case "rsa":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ecdsa256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ecdsa384":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ecdsa521":
		key, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	default:
		t.Fatalf("unknown key kind %s", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// team is a set of reviewers and their allowed-signers file.
type team struct {
	keys    map[string]ssh.Signer
	allowed *AllowedSigners
}

// newTeam makes one ed25519 key per name and an allowed-signers file
// listing them; extra lines are appended verbatim.
func newTeam(t *testing.T, names []string, extra ...string) *team {
	t.Helper()
	tm := &team{keys: map[string]ssh.Signer{}}
	var b strings.Builder
	b.WriteString("# reviewers of production plans\n\n")
	for _, n := range names {
		tm.keys[n] = newSigner(t, "ed25519")
		fmt.Fprintf(&b, "%s %s %s@laptop\n", n, AuthorizedKey(tm.keys[n].PublicKey()), n)
	}
	for _, l := range extra {
		b.WriteString(l + "\n")
	}
	as, err := ParseAllowedSigners(strings.NewReader(b.String()), "allowed_signers")
	if err != nil {
		t.Fatal(err)
	}
	tm.allowed = as
	return tm
}

func sign(t *testing.T, p *Plan, s ssh.Signer) {
	t.Helper()
	if _, err := Sign(p, s, testNow); err != nil {
		t.Fatal(err)
	}
}

// TestSignaturesThatHold: plans whose signatures Verify accepts, with the
// signers it must count.
func TestSignaturesThatHold(t *testing.T) {
	type test struct {
		name string
		// build returns the signed plan and whose signatures count.
		build func(t *testing.T) (*Plan, *AllowedSigners)
		// signers, when set, is who Verify must count, and required how
		// many approvals the plan needs.
		signers  string
		required int
	}
	var tests []test
	// Each key type, alice listed plainly and bob for rebind-plan only.
	for _, kind := range []string{"ed25519", "rsa", "ecdsa256", "ecdsa384", "ecdsa521"} {
		tests = append(tests, test{
			name: "each key type/" + kind,
			build: func(t *testing.T) (*Plan, *AllowedSigners) {
				p := samplePlan()
				alice, bob := newSigner(t, kind), newSigner(t, kind)
				allowed, err := ParseAllowedSigners(strings.NewReader(
					"alice "+AuthorizedKey(alice.PublicKey())+"\n"+
						`bob namespaces="rebind-plan" `+AuthorizedKey(bob.PublicKey())+"\n"), "allowed")
				if err != nil {
					t.Fatal(err)
				}
				sign(t, p, alice)
				sign(t, p, bob)
				if kind == "rsa" && !strings.Contains(p.Signatures[0].Armored, "BEGIN SSH SIGNATURE") {
					t.Fatalf("not armored: %s", p.Signatures[0].Armored)
				}
				return p, allowed
			},
			signers:  "alice,bob",
			required: 2,
		})
	}
	tests = append(tests, test{
		name: "after the plan is written and read",
		build: func(t *testing.T) (*Plan, *AllowedSigners) {
			tm := newTeam(t, []string{"alice", "bob"})
			p := samplePlan()
			sign(t, p, tm.keys["alice"])
			sign(t, p, tm.keys["bob"])
			path := t.TempDir() + "/plan.json"
			if err := p.Write(path); err != nil {
				t.Fatal(err)
			}
			q, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			return q, tm.allowed
		},
	}, test{
		// A reviewer who pipes the digest with echo signs it with a
		// trailing newline: that signature is taken too.
		name: "a digest signed with its newline",
		build: func(t *testing.T) (*Plan, *AllowedSigners) {
			tm := newTeam(t, []string{"alice", "bob"})
			p := samplePlan()
			for _, n := range []string{"alice", "bob"} {
				armored, err := sshsigSign(tm.keys[n], Namespace, []byte(p.Digest()+"\n"))
				if err != nil {
					t.Fatal(err)
				}
				if err := AddSignature(p, armored); err != nil {
					t.Fatal(err)
				}
			}
			return p, tm.allowed
		},
	}, test{
		name: "a plan that needs no approvals, without allowed signers",
		build: func(t *testing.T) (*Plan, *AllowedSigners) {
			p := samplePlan()
			p.Approvals = Policy{}
			p.Steps = nil
			return p, nil
		},
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, allowed := tt.build(t)
			ap, err := Verify(p, allowed, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if tt.signers == "" {
				return
			}
			if got := strings.Join(ap.Signers, ","); got != tt.signers || !ap.Enough() || ap.Required != tt.required {
				t.Fatalf("approval = %+v", ap)
			}
		})
	}
}

func TestRSASignsWithSHA512(t *testing.T) {
	p := samplePlan()
	sig, err := Sign(p, newSigner(t, "rsa"), testNow)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := parseSSHSig(sig.Armored)
	if err != nil {
		t.Fatal(err)
	}
	if s.Sig.Format != ssh.KeyAlgoRSASHA512 || s.HashAlgorithm != "sha512" {
		t.Fatalf("format %s, hash %s", s.Sig.Format, s.HashAlgorithm)
	}
}

func TestVerifyRefuses(t *testing.T) {
	erin := newSigner(t, "ed25519")
	tm := newTeam(t, []string{"alice", "bob", "carol", "dave"},
		`erin namespaces="git" `+AuthorizedKey(erin.PublicKey()),
		`frank valid-before="20260101Z" `+AuthorizedKey(newSigner(t, "ed25519").PublicKey()))
	alice2 := newSigner(t, "ed25519")
	tm.allowed.Entries = append(tm.allowed.Entries, AllowedSigner{Principals: []string{"alice"}, Key: alice2.PublicKey(), Line: 99})
	// keys are the team's, alice's second key, erin's (allowed for git
	// only) and an outsider's.
	keys := map[string]ssh.Signer{"alice2": alice2, "erin": erin, "outsider": newSigner(t, "ed25519")}
	for n, k := range tm.keys {
		keys[n] = k
	}

	tests := []struct {
		name string
		// authorKey, when set, names the key the plan's author holds, and
		// the author becomes "someone-else" (dave wrote samplePlan).
		authorKey string
		// signers sign a fresh sample plan, in this order.
		signers []string
		// tamper, when set, changes the signed plan.
		tamper func(t *testing.T, p *Plan)
		want   error
		msg    string
	}{
		{
			name:    "one byte changed after signing",
			signers: []string{"alice", "bob"},
			tamper:  func(t *testing.T, p *Plan) { p.Inputs["upn"] = Value(`"alice.smith@contoso.con"`) },
			want:    ErrWrongDigest,
			msg:     "signature 1 by alice",
		},
		{
			name:    "a signature over another plan",
			signers: []string{"alice"},
			tamper: func(t *testing.T, p *Plan) {
				other := samplePlan()
				other.Runbook.Name = "another"
				sign(t, other, keys["carol"])
				p.Signatures = append(p.Signatures, other.Signatures...)
				sign(t, p, keys["bob"])
			},
			want: ErrWrongDigest,
			msg:  "signature 2 by carol",
		},
		{
			name:    "the author's own signature, by principal",
			signers: []string{"alice", "dave"}, // dave wrote samplePlan
			want:    ErrAuthorSignature,
			msg:     "signature 2 by dave",
		},
		{
			name:      "the author's own signature, by author key",
			authorKey: "carol",
			signers:   []string{"alice", "bob"},
			tamper:    func(t *testing.T, p *Plan) { forceSign(t, p, keys["carol"]) },
			want:      ErrAuthorSignature,
			msg:       "signature 3",
		},
		{
			name:      "the author's other key",
			authorKey: "alice",
			signers:   []string{"bob", "carol", "alice2"},
			want:      ErrAuthorSignature,
			msg:       "signature 3 by alice",
		},
		{
			name:    "an unknown key",
			signers: []string{"alice", "bob", "outsider"},
			want:    ErrUnknownSigner,
			msg:     "is not in allowed_signers",
		},
		{
			name:    "a key allowed only for git",
			signers: []string{"alice", "bob", "erin"},
			want:    ErrUnknownSigner,
			msg:     `(erin) allows namespaces "git" only`,
		},
		{
			name:    "a garbled signature",
			signers: []string{"alice", "bob"},
			tamper: func(t *testing.T, p *Plan) {
				p.Signatures[0].Armored = strings.Replace(p.Signatures[0].Armored, "U1NIU0lH", "U1NIU0lI", 1)
			},
			want: ErrMalformedSignature,
			msg:  "missing SSHSIG magic",
		},
		{
			name:    "too few signers",
			signers: []string{"alice"},
			want:    ErrTooFewApprovals,
			msg:     "needs 2 approvals, has 1: alice",
		},
		{
			name:    "a duplicate signer counts once",
			signers: []string{"alice", "alice2"},
			want:    ErrTooFewApprovals,
			msg:     "needs 2 approvals, has 1: alice (alice signed more than once, counted once)",
		},
		{
			name:    "the same signature twice counts once",
			signers: []string{"alice"},
			tamper:  func(t *testing.T, p *Plan) { p.Signatures = append(p.Signatures, p.Signatures[0]) },
			want:    ErrTooFewApprovals,
			msg:     "needs 2 approvals, has 1: alice",
		},
		{
			name:    "a signature for git commits",
			signers: []string{"alice"},
			tamper: func(t *testing.T, p *Plan) {
				armored, err := sshsigSign(keys["bob"], "git", message(p.Digest()))
				if err != nil {
					t.Fatal(err)
				}
				p.Signatures = append(p.Signatures, Signature{PublicKey: AuthorizedKey(keys["bob"].PublicKey()), Armored: armored})
			},
			want: ErrNamespace,
		},
		{
			name:    "a public_key that is not the signing key",
			signers: []string{"alice", "bob"},
			tamper:  func(t *testing.T, p *Plan) { p.Signatures[1].PublicKey = AuthorizedKey(keys["carol"].PublicKey()) },
			want:    ErrMalformedSignature,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := samplePlan()
			if tt.authorKey != "" {
				p.Author = "someone-else"
				p.AuthorKey = AuthorizedKey(keys[tt.authorKey].PublicKey())
			}
			for _, n := range tt.signers {
				sign(t, p, keys[n])
			}
			if tt.tamper != nil {
				tt.tamper(t, p)
			}
			_, err := Verify(p, tm.allowed, testNow)
			t.Logf("Verify: %v", err)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Verify = %q, want it to say %q", err, tt.msg)
			}
		})
	}
}

// forceSign adds a signature by s without Sign's author check, as a
// tampered plan file would carry.
func forceSign(t *testing.T, p *Plan, s ssh.Signer) {
	t.Helper()
	armored, err := sshsigSign(s, Namespace, message(p.Digest()))
	if err != nil {
		t.Fatal(err)
	}
	p.Signatures = append(p.Signatures, Signature{PublicKey: AuthorizedKey(s.PublicKey()), Armored: armored, Created: testNow})
}

// TestSignatureRefusals: each way Sign, AddSignature, CheckSigner and
// Verify refuse a signer or a signature before it counts, with the error
// the refusal must wrap.
func TestSignatureRefusals(t *testing.T) {
	tm := newTeam(t, []string{"alice", "dave"}) // dave wrote samplePlan
	tests := []struct {
		name string
		// refuse returns the refusal; p is a fresh sample plan.
		refuse func(t *testing.T, p *Plan) error
		want   error
		// after checks p once refused.
		after func(t *testing.T, p *Plan)
	}{{
		name: "Sign with the author's key",
		refuse: func(t *testing.T, p *Plan) error {
			s := newSigner(t, "ed25519")
			p.AuthorKey = AuthorizedKey(s.PublicKey())
			_, err := Sign(p, s, testNow)
			return err
		},
		want: ErrAuthorSignature,
		after: func(t *testing.T, p *Plan) {
			if len(p.Signatures) != 0 {
				t.Fatal("the refused signature was added")
			}
		},
	}, {
		name: "AddSignature by the author's key",
		refuse: func(t *testing.T, p *Plan) error {
			s := newSigner(t, "ed25519")
			p.AuthorKey = AuthorizedKey(s.PublicKey())
			armored, err := sshsigSign(s, Namespace, message(p.Digest()))
			if err != nil {
				t.Fatal(err)
			}
			return AddSignature(p, armored)
		},
		want: ErrAuthorSignature,
	}, {
		name: "AddSignature over another digest",
		refuse: func(t *testing.T, p *Plan) error {
			armored, err := sshsigSign(newSigner(t, "ed25519"), Namespace, message(strings.Repeat("0", 64)))
			if err != nil {
				t.Fatal(err)
			}
			return AddSignature(p, armored)
		},
		want: ErrWrongDigest,
	}, {
		name:   "AddSignature of what is not a signature",
		refuse: func(t *testing.T, p *Plan) error { return AddSignature(p, "not a signature") },
		want:   ErrMalformedSignature,
	}, {
		name: "CheckSigner of the author",
		refuse: func(t *testing.T, p *Plan) error {
			_, err := CheckSigner(p, tm.allowed, tm.keys["dave"].PublicKey(), testNow)
			return err
		},
		want: ErrAuthorSignature,
	}, {
		name: "CheckSigner of an outsider",
		refuse: func(t *testing.T, p *Plan) error {
			_, err := CheckSigner(p, tm.allowed, newSigner(t, "ed25519").PublicKey(), testNow)
			return err
		},
		want: ErrUnknownSigner,
	}, {
		name: "Verify without allowed signers",
		refuse: func(t *testing.T, p *Plan) error {
			_, err := Verify(p, nil, testNow)
			return err
		},
		want: ErrNoAllowedSigners,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := samplePlan()
			if err := tt.refuse(t, p); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.after != nil {
				tt.after(t, p)
			}
		})
	}
}

func TestCheckSigner(t *testing.T) {
	tm := newTeam(t, []string{"alice", "dave"})
	p := samplePlan()
	if e, err := CheckSigner(p, tm.allowed, tm.keys["alice"].PublicKey(), testNow); err != nil || e.Principal() != "alice" {
		t.Fatalf("alice: %v %v", e, err)
	}
}

func TestSignReplacesTheSameKeysSignature(t *testing.T) {

	tm := newTeam(t, []string{"alice"})
	p := samplePlan()
	sign(t, p, tm.keys["alice"])
	sign(t, p, tm.keys["alice"])
	if len(p.Signatures) != 1 {
		t.Fatalf("%d signatures, want 1", len(p.Signatures))
	}
}

func TestVerifyNamesEachSignature(t *testing.T) {
	tm := newTeam(t, []string{"alice", "bob"})
	p := samplePlan()
	sign(t, p, tm.keys["alice"])
	sign(t, p, newSigner(t, "ed25519"))
	sign(t, p, tm.keys["bob"])
	ap, err := Verify(p, tm.allowed, testNow)
	if !errors.Is(err, ErrUnknownSigner) || errors.Is(err, ErrTooFewApprovals) {
		t.Fatalf("Verify = %v", err)
	}
	if got := strings.Join(ap.BySignature, ","); got != "alice,,bob" {
		t.Fatalf("BySignature = %q", got)
	}
}

// MergeSignatures brings a copy's signatures in once, keeps the newer of
// two by one key, and refuses a copy of another plan or a forged signature
// without adding anything.
func TestMergeSignatures(t *testing.T) {
	tm := newTeam(t, []string{"alice", "bob"})
	p := samplePlan()
	copyA, copyB := samplePlan(), samplePlan()
	if _, err := Sign(copyA, tm.keys["alice"], testNow.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	sign(t, copyB, tm.keys["bob"])
	for _, c := range []*Plan{copyA, copyB} {
		if keys, err := MergeSignatures(p, c); err != nil || len(keys) != 1 {
			t.Fatalf("merge: %v, %d added", err, len(keys))
		}
	}
	if ap, err := Verify(p, tm.allowed, testNow); err != nil || strings.Join(ap.Signers, ",") != "alice,bob" {
		t.Fatalf("after merging: %+v %v", ap, err)
	}
	if keys, err := MergeSignatures(p, copyA); err != nil || len(keys) != 0 || len(p.Signatures) != 2 {
		t.Fatalf("merging again: %v, %d added, %d signatures", err, len(keys), len(p.Signatures))
	}

	// carol (ECDSA: each signature differs) signs p, and copies before and
	// after: the older does not replace hers, the newer does.
	carol := newSigner(t, "ecdsa256")
	older, newer := samplePlan(), samplePlan()
	if _, err := Sign(older, carol, testNow.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := Sign(newer, carol, testNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	sign(t, p, carol)
	mine := p.Signatures[len(p.Signatures)-1].Armored
	if keys, _ := MergeSignatures(p, older); len(keys) != 0 || p.Signatures[len(p.Signatures)-1].Armored != mine {
		t.Fatal("an older signature by the same key replaced a newer one")
	}
	if keys, _ := MergeSignatures(p, newer); len(keys) != 1 || p.Signatures[len(p.Signatures)-1].Armored != newer.Signatures[0].Armored {
		t.Fatal("a newer signature by the same key was not taken")
	}
	if len(p.Signatures) != 3 {
		t.Fatalf("%d signatures, want alice, bob and carol once each", len(p.Signatures))
	}

	other := samplePlan()
	other.Author = "someone else"
	sign(t, other, tm.keys["bob"])
	if _, err := MergeSignatures(p, other); err == nil || !strings.Contains(err.Error(), "another plan") {
		t.Fatalf("a copy of another plan: %v", err)
	}
	forged := samplePlan()
	forged.Signatures = append(forged.Signatures, other.Signatures[0]) // over other's digest
	n := len(p.Signatures)
	if _, err := MergeSignatures(p, forged); err == nil || len(p.Signatures) != n {
		t.Fatalf("a signature over another digest: %v, %d signatures (was %d)", err, len(p.Signatures), n)
	}
}
