package labhttp

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
)

// Certificate credentials: the app proves itself with a JWT (the client
// assertion) signed by a certificate's private key, as "Microsoft identity
// platform application authentication certificate credentials"
// (https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials)
// describes it: header alg PS256 (or RS256) and the certificate's
// thumbprint in x5t#S256 (SHA-256) or x5t (SHA-1); claims aud = the token
// endpoint, iss = sub = the client id, exp, nbf, jti. MSAL encodes the
// thumbprint in standard base64, the page in base64url; both are read.

// errBadAssertion is a client assertion the lab does not accept.
var errBadAssertion = errors.New("invalid client assertion")

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// assertionToken issues an app-only token for the app whose certificate
// signed assertion, for the token endpoint tokenEndpoint.
func (a *Authority) assertionToken(issuer, tid, clientID, assertion, tokenEndpoint, aud string) (string, Claims, error) {
	app, ok := a.App(clientID)
	if !ok {
		return "", Claims{}, errUnknownApp
	}
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return "", Claims{}, errBadAssertion
	}
	var h map[string]any
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &h) != nil {
		return "", Claims{}, errBadAssertion
	}
	alg, _ := h["alg"].(string)
	var hashTP func([]byte) []byte
	tp, _ := h["x5t#S256"].(string)
	if tp != "" {
		hashTP = func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
	} else if tp, _ = h["x5t"].(string); tp != "" {
		hashTP = func(b []byte) []byte { s := sha1.Sum(b); return s[:] }
	} else {
		return "", Claims{}, errBadAssertion
	}
	want, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(tp, "="))
	if err != nil {
		if want, err = base64.StdEncoding.DecodeString(tp); err != nil {
			return "", Claims{}, errBadAssertion
		}
	}
	var key *rsa.PublicKey
	for _, p := range app.Certificates {
		blk, _ := pem.Decode([]byte(p))
		if blk == nil {
			continue
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			continue
		}
		if string(hashTP(cert.Raw)) == string(want) {
			key, _ = cert.PublicKey.(*rsa.PublicKey)
		}
	}
	if key == nil {
		return "", Claims{}, errBadAssertion
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "", Claims{}, errBadAssertion
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch alg {
	case "PS256":
		err = rsa.VerifyPSS(key, crypto.SHA256, sum[:], sig, nil)
	case "RS256":
		err = rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig)
	default:
		err = errBadAssertion
	}
	if err != nil {
		return "", Claims{}, errBadAssertion
	}
	var c struct{ Aud, Iss, Sub string }
	var raw map[string]any
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(pb, &raw) != nil {
		return "", Claims{}, errBadAssertion
	}
	c.Aud, _ = raw["aud"].(string)
	c.Iss, _ = raw["iss"].(string)
	c.Sub, _ = raw["sub"].(string)
	exp, _ := raw["exp"].(float64)
	nbf, _ := raw["nbf"].(float64)
	now := float64(a.now().Unix())
	if !strings.EqualFold(c.Aud, tokenEndpoint) || !strings.EqualFold(c.Iss, app.ClientID) || !strings.EqualFold(c.Sub, app.ClientID) ||
		exp <= now || nbf > now+300 {
		return "", Claims{}, errBadAssertion
	}
	return a.issueApp(app, issuer, tid, aud)
}
