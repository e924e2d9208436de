package plan

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Approvals are SSH signatures in the SSHSIG format (see sshsig.go), in
// namespace "rebind-plan", over the plan's digest as it is printed: the 64
// lowercase hex characters of Digest(), in ASCII, with nothing before or
// after. So a reviewer without rebind can approve with
//
//	printf %s DIGEST | ssh-keygen -Y sign -n rebind-plan -f ~/.ssh/id_ed25519 > plan.sig
//	rebind approve PLAN --signature plan.sig
//
// Verification also accepts the digest followed by one newline, so that
// `echo DIGEST | ssh-keygen -Y sign ...` works too: both messages name the
// same plan and nothing else.

// Errors from signing and verifying approvals. Each is wrapped with the
// details (which signature, which key, which principal); test with
// errors.Is.
var (
	// ErrMalformedSignature: the signature is not an SSHSIG signature
	// rebind can read.
	ErrMalformedSignature = errors.New("plan: malformed SSH signature")
	// ErrNamespace: the signature was made for another purpose (a git
	// commit, a file), not to approve a plan.
	ErrNamespace = errors.New("plan: signature is not in the rebind-plan namespace")
	// ErrWrongDigest: the signature does not cover this plan's digest: the
	// plan changed after it was signed, or it approves another plan.
	ErrWrongDigest = errors.New("plan: signature is not over this plan's digest")
	// ErrUnknownSigner: the signing key is not in the allowed-signers file,
	// or not for this namespace or at this time.
	ErrUnknownSigner = errors.New("plan: signer is not an allowed signer")
	// ErrCertificate: the signature was made with an SSH certificate.
	ErrCertificate = errors.New("plan: certificate signatures are not supported")
	// ErrAuthorSignature: the plan's author signed it; authors cannot
	// approve their own plans.
	ErrAuthorSignature = errors.New("plan: the author cannot approve their own plan")
	// ErrTooFewApprovals: fewer distinct reviewers signed than the plan
	// needs. The error is a *TooFewApprovalsError.
	ErrTooFewApprovals = errors.New("plan: too few approvals")
	// ErrNoAllowedSigners: approvals cannot be verified without an
	// allowed-signers file.
	ErrNoAllowedSigners = errors.New("plan: no allowed-signers file to verify approvals against")
)

// SignatureError is a problem with one of a plan's signatures.
type SignatureError struct {
	// Index is the signature's position in Plan.Signatures, -1 for a
	// signature not (yet) in the plan.
	Index int
	// Fingerprint is the signing key's SHA256 fingerprint, when known.
	Fingerprint string
	// Principal is the signer's name from the allowed-signers file, when
	// known.
	Principal string
	Err       error
}

// Error names the signature (its position, signer and key) and the problem.
func (e *SignatureError) Error() string {
	who := []string{"plan: signature"}
	if e.Index >= 0 {
		who[0] += fmt.Sprintf(" %d", e.Index+1)
	}
	if e.Principal != "" {
		who = append(who, "by "+e.Principal)
	}
	if e.Fingerprint != "" {
		who = append(who, "("+e.Fingerprint+")")
	}
	return strings.Join(who, " ") + ": " + strings.TrimPrefix(e.Err.Error(), "plan: ")
}

// Unwrap returns the problem, one of the Err sentinels wrapped with detail.
func (e *SignatureError) Unwrap() error { return e.Err }

// TooFewApprovalsError says how many approvals a plan needs and which
// distinct reviewers it has.
type TooFewApprovalsError struct {
	Need    int
	Signers []string
	// Duplicates are signers who signed more than once, counted once.
	Duplicates []string
}

// Error says "plan: needs N approvals, has M: names".
func (e *TooFewApprovalsError) Error() string {
	s := fmt.Sprintf("plan: needs %d approval%s, has %d", e.Need, plural(e.Need), len(e.Signers))
	if len(e.Signers) > 0 {
		s += ": " + strings.Join(e.Signers, ", ")
	}
	if len(e.Duplicates) > 0 {
		s += fmt.Sprintf(" (%s signed more than once, counted once)", strings.Join(e.Duplicates, ", "))
	}
	return s
}

// Is makes errors.Is(err, ErrTooFewApprovals) true.
func (e *TooFewApprovalsError) Is(target error) bool { return target == ErrTooFewApprovals }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Approval is the outcome of verifying a plan's signatures.
type Approval struct {
	// Digest is the plan digest the signatures were checked against.
	Digest string
	// Required is how many distinct reviewers the plan needs.
	Required int
	// Signers are the distinct reviewers whose signatures verified, by
	// their first principal in the allowed-signers file, in plan order.
	Signers []string
	// Duplicates are reviewers who signed more than once (with the same
	// key or two keys of theirs); each counts once.
	Duplicates []string
	// BySignature is the principal of each of the plan's signatures, in
	// order, "" for one that does not hold.
	BySignature []string
}

// Enough reports whether the plan has the approvals it needs.
func (a Approval) Enough() bool { return len(a.Signers) >= a.Required }

// message is what approvals sign: the hex digest (see above).
func message(digest string) []byte { return []byte(digest) }

// Sign approves p with signer: it signs p's digest and adds the signature
// to p.Signatures, replacing an earlier signature by the same key. RSA
// keys sign with rsa-sha2-512. It refuses the plan's author's key
// (p.AuthorKey).
func Sign(p *Plan, signer ssh.Signer, now time.Time) (Signature, error) {
	pub := signer.PublicKey()
	if err := checkNotAuthorKey(p, pub); err != nil {
		return Signature{}, &SignatureError{Index: -1, Fingerprint: ssh.FingerprintSHA256(pub), Err: err}
	}
	armored, err := sshsigSign(signer, Namespace, message(p.Digest()))
	if err != nil {
		return Signature{}, err
	}
	sig := Signature{PublicKey: authorizedKey(pub), Armored: armored, Created: now.UTC()}
	p.addSignature(sig, pub)
	return sig, nil
}

// AddSignature adds an approval made outside rebind (with `ssh-keygen -Y
// sign -n rebind-plan`, see above) to p, replacing an earlier signature by
// the same key. It checks the signature before adding it: it must be
// readable, in the rebind-plan namespace, over p's digest and not by the
// author's key. Whether the signer may approve is decided by Verify. The
// signature is stored re-armored in ssh-keygen's layout, whatever line
// endings it arrived with.
func AddSignature(p *Plan, armored string) error {
	s, raw, err := parseSSHSig(armored)
	if err != nil {
		return &SignatureError{Index: -1, Err: err}
	}
	fp := ssh.FingerprintSHA256(s.Key)
	if err := s.verify(Namespace, messages(p.Digest())...); err != nil {
		return &SignatureError{Index: -1, Fingerprint: fp, Err: err}
	}
	if err := checkNotAuthorKey(p, s.Key); err != nil {
		return &SignatureError{Index: -1, Fingerprint: fp, Err: err}
	}
	p.addSignature(Signature{PublicKey: authorizedKey(s.Key), Armored: armor(raw), Created: time.Now().UTC()}, s.Key)
	return nil
}

// MergeSignatures adds to p the signatures on other, a copy of the same
// plan that other reviewers signed (two reviewers who each signed the copy
// they were sent). other must have p's digest. Each signature is checked as
// AddSignature checks one and keeps the time it was made; one identical to
// a signature p has is skipped, and one by a key that already signed p
// replaces it only when it is newer. It returns the public keys of the
// signatures it added, and adds none when any of them does not hold.
func MergeSignatures(p, other *Plan) ([]ssh.PublicKey, error) {
	if pd, od := p.Digest(), other.Digest(); pd != od {
		return nil, fmt.Errorf("a copy of another plan (sha256:%s, not sha256:%s): only signatures over the same digest can be merged", od, pd)
	}
	type add struct {
		sig Signature
		key ssh.PublicKey
	}
	var adds []add
	for i, o := range other.Signatures {
		s, raw, err := parseSSHSig(o.Armored)
		if err != nil {
			return nil, &SignatureError{Index: i, Err: err}
		}
		fp := ssh.FingerprintSHA256(s.Key)
		if err := s.verify(Namespace, messages(p.Digest())...); err != nil {
			return nil, &SignatureError{Index: i, Fingerprint: fp, Err: err}
		}
		if err := checkNotAuthorKey(p, s.Key); err != nil {
			return nil, &SignatureError{Index: i, Fingerprint: fp, Err: err}
		}
		sig := Signature{PublicKey: authorizedKey(s.Key), Armored: armor(raw), Created: o.Created.UTC()}
		if p.hasNewerOrSame(sig, s.Key) {
			continue
		}
		adds = append(adds, add{sig, s.Key})
	}
	keys := make([]ssh.PublicKey, 0, len(adds))
	for _, a := range adds {
		p.addSignature(a.sig, a.key)
		keys = append(keys, a.key)
	}
	return keys, nil
}

// hasNewerOrSame reports whether p holds sig already, or a signature by the
// same key made at the same time or later.
func (p *Plan) hasNewerOrSame(sig Signature, key ssh.PublicKey) bool {
	for _, old := range p.Signatures {
		if old.Armored == sig.Armored {
			return true
		}
		if k, err := parseAuthorizedKey(old.PublicKey); err == nil && sameKey(k, key) && !old.Created.Before(sig.Created) {
			return true
		}
	}
	return false
}

func (p *Plan) addSignature(sig Signature, key ssh.PublicKey) {
	for i, old := range p.Signatures {
		if k, err := parseAuthorizedKey(old.PublicKey); err == nil && sameKey(k, key) {
			p.Signatures[i] = sig
			return
		}
	}
	p.Signatures = append(p.Signatures, sig)
}

// messages are the messages Verify accepts for digest.
func messages(digest string) [][]byte {
	return [][]byte{message(digest), []byte(digest + "\n")}
}

// Verify checks every signature on p against allowed at now and returns
// the distinct reviewers who approved it. It fails when any signature is
// unreadable, in another namespace, not over p's digest, by a key allowed
// does not list for "rebind-plan" at now, or by the author (the key
// p.AuthorKey, any key of that key's principal, or the principal p.Author);
// and when fewer distinct reviewers signed than
// p.RequiredApprovals(), with a *TooFewApprovalsError. A reviewer who signed
// twice counts once. All problems are reported together (errors.Join), and
// the returned Approval lists the good signatures even on error.
//
// One bad signature fails the whole plan even when enough good ones remain:
// a plan file carrying a signature that does not verify has been tampered
// with or mixed up, and should not run.
//
// Verify does not check expiry; the caller does, with its own clock.
func Verify(p *Plan, allowed *AllowedSigners, now time.Time) (Approval, error) {
	return VerifyFor(p, allowed, now, p.RequiredApprovals())
}

// VerifyFor is Verify with the number of approvals the plan needs given by
// the caller: the applier's count, recomputed from what it trusts (see
// engine/approval), rather than the count the plan's JSON implies.
func VerifyFor(p *Plan, allowed *AllowedSigners, now time.Time, required int) (Approval, error) {
	digest := p.Digest()
	ap := Approval{Digest: digest, Required: required}
	if allowed == nil {
		if len(p.Signatures) == 0 && ap.Required == 0 {
			return ap, nil
		}
		return ap, ErrNoAllowedSigners
	}
	var errs []error
	seen := map[string]bool{}
	dup := map[string]bool{}
	ap.BySignature = make([]string, len(p.Signatures))
	for i, sig := range p.Signatures {
		principal, err := verifyOne(p, sig, allowed, digest, now)
		ap.BySignature[i] = principal
		if err != nil {
			errs = append(errs, setIndex(err, i))
			continue
		}
		if seen[principal] {
			if !dup[principal] {
				ap.Duplicates = append(ap.Duplicates, principal)
			}
			dup[principal] = true
			continue
		}
		seen[principal] = true
		ap.Signers = append(ap.Signers, principal)
	}
	if len(ap.Signers) < ap.Required {
		errs = append(errs, &TooFewApprovalsError{Need: ap.Required, Signers: ap.Signers, Duplicates: ap.Duplicates})
	}
	return ap, errors.Join(errs...)
}

func setIndex(err error, i int) error {
	var se *SignatureError
	if errors.As(err, &se) {
		se.Index = i
	}
	return err
}

// verifyOne verifies one signature and returns the signer's principal.
func verifyOne(p *Plan, sig Signature, allowed *AllowedSigners, digest string, now time.Time) (string, error) {
	s, _, err := parseSSHSig(sig.Armored)
	if err != nil {
		return "", &SignatureError{Err: err}
	}
	fp := ssh.FingerprintSHA256(s.Key)
	if k, err := parseAuthorizedKey(sig.PublicKey); err != nil || !sameKey(k, s.Key) {
		return "", &SignatureError{Fingerprint: fp, Err: fmt.Errorf("%w: public_key %q is not the key that made the signature", ErrMalformedSignature, sig.PublicKey)}
	}
	if err := s.verify(Namespace, messages(digest)...); err != nil {
		principal := ""
		if e, lerr := allowed.Lookup(s.Key, Namespace, now); lerr == nil {
			principal = e.Principal()
		}
		if errors.Is(err, ErrWrongDigest) {
			err = fmt.Errorf("%w sha256:%s: the plan changed after it was signed, or the signature approves another plan", ErrWrongDigest, digest)
		}
		return "", &SignatureError{Fingerprint: fp, Principal: principal, Err: err}
	}
	if err := checkNotAuthorKey(p, s.Key); err != nil {
		return "", &SignatureError{Fingerprint: fp, Err: err}
	}
	e, err := allowed.Lookup(s.Key, Namespace, now)
	if err != nil {
		// Lookup's error names the key.
		return "", &SignatureError{Err: err}
	}
	if isAuthor(p, allowed, e) {
		return "", &SignatureError{Fingerprint: fp, Principal: e.Principal(), Err: fmt.Errorf("%w (%s made the plan)", ErrAuthorSignature, p.Author)}
	}
	return e.Principal(), nil
}

// isAuthor reports whether the allowed signer e is the plan's author: p.Author
// matches one of e's principals, or e's principal is a principal of the
// author's key (p.AuthorKey) in allowed, so that an author who holds two
// keys cannot approve with the other one.
func isAuthor(p *Plan, allowed *AllowedSigners, e AllowedSigner) bool {
	if p.Author != "" {
		for _, pr := range e.Principals {
			if matchPattern(p.Author, pr) {
				return true
			}
		}
	}
	if p.AuthorKey == "" {
		return false
	}
	ak, err := parseAuthorizedKey(p.AuthorKey)
	if err != nil {
		return false
	}
	for _, a := range allowed.Entries {
		if !a.CertAuthority && sameKey(a.Key, ak) {
			for _, pr := range a.Principals {
				if pr == e.Principal() {
					return true
				}
			}
		}
	}
	return false
}

// checkNotAuthorKey refuses the author's key.
func checkNotAuthorKey(p *Plan, key ssh.PublicKey) error {
	if p.AuthorKey == "" {
		return nil
	}
	ak, err := parseAuthorizedKey(p.AuthorKey)
	if err != nil {
		return fmt.Errorf("plan: author_key: %w", err)
	}
	if sameKey(ak, key) {
		return fmt.Errorf("%w (the key is the plan's author key; %s made the plan)", ErrAuthorSignature, p.Author)
	}
	return nil
}

// CheckSigner tells whether key may approve p per allowed at now, without
// signing: the key must be listed for the rebind-plan namespace and must
// not be the author's. It returns the signer's entry.
func CheckSigner(p *Plan, allowed *AllowedSigners, key ssh.PublicKey, now time.Time) (AllowedSigner, error) {
	fp := ssh.FingerprintSHA256(key)
	if err := checkNotAuthorKey(p, key); err != nil {
		return AllowedSigner{}, &SignatureError{Index: -1, Fingerprint: fp, Err: err}
	}
	e, err := allowed.Lookup(key, Namespace, now)
	if err != nil {
		return AllowedSigner{}, &SignatureError{Index: -1, Err: err}
	}
	if isAuthor(p, allowed, e) {
		return AllowedSigner{}, &SignatureError{Index: -1, Fingerprint: fp, Principal: e.Principal(), Err: fmt.Errorf("%w (%s made the plan)", ErrAuthorSignature, p.Author)}
	}
	return e, nil
}

// AuthorizedKey returns key in authorized_keys form without a comment, the
// form Plan.AuthorKey and Signature.PublicKey hold.
func AuthorizedKey(key ssh.PublicKey) string { return authorizedKey(key) }

func authorizedKey(key ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

func parseAuthorizedKey(s string) (ssh.PublicKey, error) {
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s))
	return k, err
}

func sameKey(a, b ssh.PublicKey) bool { return bytes.Equal(a.Marshal(), b.Marshal()) }

// SignatureKey returns the public key an armored SSH signature says it was
// made with, without verifying the signature.
func SignatureKey(armored string) (ssh.PublicKey, error) {
	s, _, err := parseSSHSig(armored)
	if err != nil {
		return nil, &SignatureError{Index: -1, Err: err}
	}
	return s.Key, nil
}
