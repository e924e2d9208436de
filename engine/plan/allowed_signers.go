package plan

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// AllowedSigners is an allowed-signers file in the format of ssh-keygen(1)
// ("ALLOWED SIGNERS") and git's gpg.ssh.allowedSignersFile: one key a line,
//
//	principal[,principal...] [options] keytype base64-key [comment]
//
// with '#' comments and blank lines ignored. The options rebind honours are
// namespaces="pattern,..." (the key approves only in matching namespaces),
// valid-after and valid-before ("YYYYMMDD[HHMM[SS]]", local time unless
// followed by Z). A cert-authority line is kept but never matches a plain
// key, as in ssh-keygen; signatures made with certificates are refused,
// because rebind does not check certificate validity or revocation. Other
// options are accepted and ignored; in particular no-touch-required is not
// honoured: a security key's signature must always show the user touched
// it.
//
// The file is how a team says whose approval counts: rebind takes a
// reviewer's name from the file, never from the plan.
type AllowedSigners struct {
	// Name is the file the entries came from, for messages.
	Name    string
	Entries []AllowedSigner
}

// AllowedSigner is one line of an allowed-signers file.
type AllowedSigner struct {
	// Principals are the names on the line, in order; the first is the
	// name rebind shows and counts approvals by.
	Principals []string
	Key        ssh.PublicKey
	// Namespaces restricts the namespaces the key may sign in; empty means
	// any.
	Namespaces []string
	// ValidAfter and ValidBefore bound when the key is trusted; zero means
	// unbounded.
	ValidAfter, ValidBefore time.Time
	// CertAuthority marks a line that trusts certificates signed by Key.
	CertAuthority bool
	// Line is the 1-based line number in the file.
	Line int
}

// Principal is the name an approval by this entry counts under: its first
// principal.
func (e AllowedSigner) Principal() string { return e.Principals[0] }

// ReadAllowedSigners parses the allowed-signers file at path.
func ReadAllowedSigners(path string) (*AllowedSigners, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("plan: allowed signers: %w", err)
	}
	defer f.Close()
	return ParseAllowedSigners(f, path)
}

// ParseAllowedSigners parses an allowed-signers file; name is used in
// errors. Any malformed line fails the whole file, with its line number:
// a file that says who may approve production changes must say it clearly.
func ParseAllowedSigners(r io.Reader, name string) (*AllowedSigners, error) {
	as := &AllowedSigners{Name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := parseAllowedSignerLine(line)
		if err != nil {
			return nil, fmt.Errorf("plan: allowed signers %s:%d: %w", name, n, err)
		}
		e.Line = n
		as.Entries = append(as.Entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("plan: allowed signers %s: %w", name, err)
	}
	return as, nil
}

func parseAllowedSignerLine(line string) (AllowedSigner, error) {
	var e AllowedSigner
	principals, rest := nextField(line)
	if principals == "" || rest == "" {
		return e, fmt.Errorf("want \"principals [options] keytype key\"")
	}
	for _, p := range strings.Split(principals, ",") {
		if p == "" {
			return e, fmt.Errorf("empty principal in %q", principals)
		}
		e.Principals = append(e.Principals, p)
	}
	tok, after := nextOptionsField(rest)
	if !isKeyType(tok) {
		if err := e.parseOptions(tok); err != nil {
			return e, err
		}
		rest = after
	}
	keyType, rest := nextField(rest)
	b64, _ := nextField(rest)
	if keyType == "" || b64 == "" {
		return e, fmt.Errorf("missing key")
	}
	blob, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return e, fmt.Errorf("key: %v", err)
	}
	key, err := ssh.ParsePublicKey(blob)
	if err != nil {
		return e, fmt.Errorf("key: %v", err)
	}
	if key.Type() != keyType {
		return e, fmt.Errorf("key type %q does not match the key, which is %q", keyType, key.Type())
	}
	if _, ok := key.(*ssh.Certificate); ok {
		return e, fmt.Errorf("a certificate cannot be an allowed signer; list the key itself")
	}
	e.Key = key
	return e, nil
}

// isKeyType reports whether tok names an SSH public key algorithm.
func isKeyType(tok string) bool {
	switch tok {
	case ssh.KeyAlgoRSA, ssh.KeyAlgoDSA, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
		ssh.KeyAlgoED25519, ssh.KeyAlgoSKECDSA256, ssh.KeyAlgoSKED25519:
		return true
	}
	return strings.HasSuffix(tok, "-cert-v01@openssh.com")
}

// nextField splits off the first whitespace-separated field.
func nextField(s string) (field, rest string) {
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t")
}

// nextOptionsField splits off the options field, which ends at the first
// whitespace outside double quotes.
func nextOptionsField(s string) (field, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted && i+1 < len(s):
			i++
		case c == '"':
			quoted = !quoted
		case (c == ' ' || c == '\t') && !quoted:
			return s[:i], strings.TrimLeft(s[i:], " \t")
		}
	}
	return s, ""
}

// parseOptions reads the comma-separated options of a line.
func (e *AllowedSigner) parseOptions(s string) error {
	for s != "" {
		var opt string
		quoted := false
		i := 0
		for ; i < len(s); i++ {
			if s[i] == '\\' && quoted && i+1 < len(s) {
				i++
				continue
			}
			if s[i] == '"' {
				quoted = !quoted
			}
			if s[i] == ',' && !quoted {
				break
			}
		}
		if quoted {
			return fmt.Errorf("unterminated quote in options %q", s)
		}
		opt, s = s[:i], strings.TrimPrefix(s[i:], ",")
		name, value, hasValue := strings.Cut(opt, "=")
		if hasValue {
			if len(value) < 2 || value[0] != '"' || value[len(value)-1] != '"' {
				return fmt.Errorf("option %s: value must be in double quotes", name)
			}
			value = strings.ReplaceAll(value[1:len(value)-1], `\"`, `"`)
		}
		var err error
		switch strings.ToLower(name) {
		case "cert-authority":
			e.CertAuthority = true
		case "namespaces":
			if !hasValue || value == "" {
				return fmt.Errorf("option namespaces needs a value")
			}
			e.Namespaces = strings.Split(value, ",")
		case "valid-after":
			e.ValidAfter, err = parseSignerTime(value)
		case "valid-before":
			e.ValidBefore, err = parseSignerTime(value)
		}
		if err != nil {
			return fmt.Errorf("option %s: %w", name, err)
		}
	}
	return nil
}

// parseSignerTime reads ssh-keygen's YYYYMMDD[HHMM[SS]][Z] times.
func parseSignerTime(s string) (time.Time, error) {
	loc := time.Local
	if strings.HasSuffix(s, "Z") || strings.HasSuffix(s, "z") {
		loc, s = time.UTC, s[:len(s)-1]
	}
	layouts := map[int]string{8: "20060102", 12: "200601021504", 14: "20060102150405"}
	layout, ok := layouts[len(s)]
	if !ok {
		return time.Time{}, fmt.Errorf("time %q: want YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, optionally followed by Z", s)
	}
	t, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %v", s, err)
	}
	return t, nil
}

// Lookup finds the entry that lets key sign in namespace at now. When the
// key is listed but not for this namespace or time, the error says so and
// wraps ErrUnknownSigner; a certificate wraps ErrCertificate.
func (a *AllowedSigners) Lookup(key ssh.PublicKey, namespace string, now time.Time) (AllowedSigner, error) {
	if _, ok := key.(*ssh.Certificate); ok {
		return AllowedSigner{}, fmt.Errorf("%w: certificates are not accepted; sign with a key listed in %s", ErrCertificate, a.name())
	}
	blob := key.Marshal()
	var why []string
	for _, e := range a.Entries {
		if e.CertAuthority || !bytes.Equal(e.Key.Marshal(), blob) {
			continue
		}
		switch {
		case len(e.Namespaces) > 0 && !matchPatternList(namespace, e.Namespaces):
			why = append(why, fmt.Sprintf("line %d (%s) allows namespaces %q only", e.Line, e.Principal(), strings.Join(e.Namespaces, ",")))
		case !e.ValidAfter.IsZero() && now.Before(e.ValidAfter):
			why = append(why, fmt.Sprintf("line %d (%s) is valid only after %s", e.Line, e.Principal(), e.ValidAfter.Format(time.RFC3339)))
		case !e.ValidBefore.IsZero() && !now.Before(e.ValidBefore):
			why = append(why, fmt.Sprintf("line %d (%s) was valid only before %s", e.Line, e.Principal(), e.ValidBefore.Format(time.RFC3339)))
		default:
			return e, nil
		}
	}
	if len(why) > 0 {
		return AllowedSigner{}, fmt.Errorf("%w: key %s in %s: %s", ErrUnknownSigner, ssh.FingerprintSHA256(key), a.name(), strings.Join(why, "; "))
	}
	return AllowedSigner{}, fmt.Errorf("%w: key %s is not in %s", ErrUnknownSigner, ssh.FingerprintSHA256(key), a.name())
}

func (a *AllowedSigners) name() string {
	if a == nil || a.Name == "" {
		return "the allowed signers"
	}
	return a.Name
}

// matchPatternList matches s against ssh-style patterns ('*' and '?'
// wildcards, '!' negates); a negated match wins, as in OpenSSH.
func matchPatternList(s string, patterns []string) bool {
	matched := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = p[1:]
		}
		if matchPattern(s, p) {
			if neg {
				return false
			}
			matched = true
		}
	}
	return matched
}

// matchPattern matches s against one pattern of '*' and '?' wildcards.
func matchPattern(s, p string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if matchPattern(s[i:], p[1:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
			s, p = s[1:], p[1:]
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
			s, p = s[1:], p[1:]
		}
	}
	return s == ""
}
