package plan

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// This file implements the SSHSIG signature format that `ssh-keygen -Y sign`
// writes and `ssh-keygen -Y verify` reads (OpenSSH's PROTOCOL.sshsig), so
// that a reviewer may approve a plan with rebind or with ssh-keygen alone.
//
// The signed data is
//
//	byte[6] "SSHSIG"
//	string  namespace
//	string  reserved (empty)
//	string  hash algorithm ("sha512" or "sha256")
//	string  H(message)
//
// and the signature blob, armored as base64 between BEGIN/END SSH SIGNATURE
// lines, is
//
//	byte[6] "SSHSIG"
//	uint32  version (1)
//	string  public key
//	string  namespace
//	string  reserved (empty)
//	string  hash algorithm
//	string  signature (an SSH signature: format name and blob)

const (
	sshsigMagic   = "SSHSIG"
	sshsigVersion = 1
	armorBegin    = "-----BEGIN SSH SIGNATURE-----"
	armorEnd      = "-----END SSH SIGNATURE-----"
	// armorWidth is the base64 line length ssh-keygen writes.
	armorWidth = 70
)

// Namespace is the SSHSIG namespace of plan approvals. A signature made for
// another purpose (git commits use "git", files "file") is never taken as
// an approval, nor an approval as anything else.
const Namespace = "rebind-plan"

// sshsigSignedData is the SSHSIG "signed data" structure, minus its magic.
type sshsigSignedData struct {
	Namespace     string
	Reserved      string
	HashAlgorithm string
	Hash          string
}

// sshsigBlob is the SSHSIG signature blob after its magic.
type sshsigBlob struct {
	Version       uint32
	PublicKey     string
	Namespace     string
	Reserved      string
	HashAlgorithm string
	Signature     string
}

// sshSignature is a parsed SSHSIG signature.
type sshSignature struct {
	Key           ssh.PublicKey
	Namespace     string
	HashAlgorithm string
	Sig           *ssh.Signature
}

// signedData returns the bytes an SSHSIG signature covers for message.
func signedData(namespace, hashAlg string, message []byte) ([]byte, error) {
	var h []byte
	switch hashAlg {
	case "sha512":
		s := sha512.Sum512(message)
		h = s[:]
	case "sha256":
		s := sha256.Sum256(message)
		h = s[:]
	default:
		return nil, fmt.Errorf("%w: hash algorithm %q (want sha512 or sha256)", ErrMalformedSignature, hashAlg)
	}
	data := ssh.Marshal(sshsigSignedData{Namespace: namespace, HashAlgorithm: hashAlg, Hash: string(h)})
	return append([]byte(sshsigMagic), data...), nil
}

// sshsigSign signs message in namespace with SHA-512, as ssh-keygen does
// by default, and returns the armored signature. RSA keys sign with
// rsa-sha2-512: ssh-keygen refuses SHA-1 ("ssh-rsa") SSHSIG signatures.
func sshsigSign(signer ssh.Signer, namespace string, message []byte) (string, error) {
	data, err := signedData(namespace, "sha512", message)
	if err != nil {
		return "", err
	}
	pub := signer.PublicKey()
	var sig *ssh.Signature
	if isRSA(pub) {
		as, ok := signer.(ssh.AlgorithmSigner)
		if !ok {
			return "", errors.New("plan: sign: this RSA signer cannot make rsa-sha2-512 signatures")
		}
		sig, err = as.SignWithAlgorithm(rand.Reader, data, ssh.KeyAlgoRSASHA512)
	} else {
		sig, err = signer.Sign(rand.Reader, data)
	}
	if err != nil {
		return "", fmt.Errorf("plan: sign: %w", err)
	}
	blob := ssh.Marshal(sshsigBlob{
		Version:       sshsigVersion,
		PublicKey:     string(pub.Marshal()),
		Namespace:     namespace,
		HashAlgorithm: "sha512",
		Signature:     string(ssh.Marshal(sig)),
	})
	return armor(append([]byte(sshsigMagic), blob...)), nil
}

func isRSA(k ssh.PublicKey) bool {
	t := k.Type()
	if c, ok := k.(*ssh.Certificate); ok {
		t = c.Key.Type()
	}
	return t == ssh.KeyAlgoRSA
}

// armor wraps blob in the BEGIN/END SSH SIGNATURE lines, 70 columns wide.
func armor(blob []byte) string {
	enc := base64.StdEncoding.EncodeToString(blob)
	var b strings.Builder
	b.WriteString(armorBegin + "\n")
	for len(enc) > armorWidth {
		b.WriteString(enc[:armorWidth] + "\n")
		enc = enc[armorWidth:]
	}
	b.WriteString(enc + "\n")
	b.WriteString(armorEnd + "\n")
	return b.String()
}

// dearmor returns the bytes inside an armored SSH signature.
func dearmor(armored string) ([]byte, error) {
	s := strings.TrimSpace(armored)
	if !strings.HasPrefix(s, armorBegin) {
		return nil, fmt.Errorf("%w: no %q line", ErrMalformedSignature, armorBegin)
	}
	// Look for the end line after the begin line: the two may share
	// dashes ("-----BEGIN SSH SIGNATURE-----END SSH SIGNATURE-----").
	end := strings.Index(s[len(armorBegin):], armorEnd)
	if end < 0 {
		return nil, fmt.Errorf("%w: no %q line", ErrMalformedSignature, armorEnd)
	}
	end += len(armorBegin)
	if rest := strings.TrimSpace(s[end+len(armorEnd):]); rest != "" {
		return nil, fmt.Errorf("%w: text after %q", ErrMalformedSignature, armorEnd)
	}
	body := strings.Join(strings.Fields(s[len(armorBegin):end]), "")
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("%w: base64: %v", ErrMalformedSignature, err)
	}
	return raw, nil
}

// parseSSHSig parses an armored SSHSIG signature and checks its magic and
// version. It does not verify it. raw is the dearmored blob.
func parseSSHSig(armored string) (s *sshSignature, raw []byte, err error) {
	raw, err = dearmor(armored)
	if err != nil {
		return nil, nil, err
	}
	if !bytes.HasPrefix(raw, []byte(sshsigMagic)) {
		return nil, nil, fmt.Errorf("%w: missing SSHSIG magic", ErrMalformedSignature)
	}
	var blob sshsigBlob
	if err := ssh.Unmarshal(raw[len(sshsigMagic):], &blob); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrMalformedSignature, err)
	}
	if blob.Version != sshsigVersion {
		return nil, nil, fmt.Errorf("%w: SSHSIG version %d (want %d)", ErrMalformedSignature, blob.Version, sshsigVersion)
	}
	key, err := ssh.ParsePublicKey([]byte(blob.PublicKey))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: public key: %v", ErrMalformedSignature, err)
	}
	var sig ssh.Signature
	if err := ssh.Unmarshal([]byte(blob.Signature), &sig); err != nil {
		return nil, nil, fmt.Errorf("%w: signature: %v", ErrMalformedSignature, err)
	}
	return &sshSignature{Key: key, Namespace: blob.Namespace, HashAlgorithm: blob.HashAlgorithm, Sig: &sig}, raw, nil
}

// verify checks that s is a signature in namespace over one of messages by
// its embedded key. It reports ErrNamespace for another namespace and
// ErrWrongDigest when the signature is sound but covers none of messages.
func (s *sshSignature) verify(namespace string, messages ...[]byte) error {
	if s.Namespace != namespace {
		return fmt.Errorf("%w: signed for namespace %q, not %q", ErrNamespace, s.Namespace, namespace)
	}
	if isRSA(s.Key) && s.Sig.Format != ssh.KeyAlgoRSASHA512 && s.Sig.Format != ssh.KeyAlgoRSASHA256 {
		// As ssh-keygen: SHA-1 RSA signatures are not accepted.
		return fmt.Errorf("%w: RSA signature algorithm %q (want rsa-sha2-512 or rsa-sha2-256)", ErrMalformedSignature, s.Sig.Format)
	}
	for _, m := range messages {
		data, err := signedData(namespace, s.HashAlgorithm, m)
		if err != nil {
			return err
		}
		if s.Key.Verify(data, s.Sig) == nil {
			return nil
		}
	}
	return ErrWrongDigest
}
