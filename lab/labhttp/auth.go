package labhttp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rebind-dev/rebind/lab"
)

// The lab's token model follows the Microsoft identity platform's access
// tokens (https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference):
// a JWT whose claims say who it is for (aud), which tenant issued it (tid),
// which app holds it (appid), and what it may do: application permissions
// in roles for an app-only token, delegated permissions in scp (space
// separated) and the signed-in user's directory roles in wids (role
// template ids) for a delegated one. Tokens are signed with the lab's own
// key (ES256), published at the jwks_uri of the lab's OpenID configuration.

// Resources a lab token can be for: Microsoft Graph and the Exchange admin
// API. A client asks for "<resource>/.default".
const (
	GraphResource    = "https://graph.microsoft.com"
	ExchangeResource = "https://outlook.office365.com"
)

// Directory role template ids, from Microsoft Entra built-in roles
// (https://learn.microsoft.com/en-us/entra/identity/role-based-access-control/permissions-reference).
const (
	RoleGlobalAdministrator          = "62e90394-69f5-4237-9190-012177145e10"
	RoleHybridIdentityAdministrator  = "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2"
	RoleDirectorySynchronizationAcct = "d29b2b05-8046-44ba-8758-1e26182fcf32"
	RoleUserAdministrator            = "fe930be7-5e62-47db-91af-98c3a49a38b1"
	RoleExchangeAdministrator        = "29232cdf-9323-42fd-ade2-1d097af3e4de"
)

// Claims are the claims of a lab access token rebind and other clients
// read: the names are the Microsoft identity platform's.
type Claims struct {
	Aud   string   `json:"aud"`
	Iss   string   `json:"iss"`
	Tid   string   `json:"tid"`
	AppID string   `json:"appid"`
	Idtyp string   `json:"idtyp,omitempty"`
	Roles []string `json:"roles,omitempty"`
	Scp   string   `json:"scp,omitempty"`
	Wids  []string `json:"wids,omitempty"`
	UPN   string   `json:"upn,omitempty"`
	Oid   string   `json:"oid,omitempty"`
	Ver   string   `json:"ver"`
	Iat   int64    `json:"iat"`
	Nbf   int64    `json:"nbf"`
	Exp   int64    `json:"exp"`
}

// AppOnly reports whether the token was issued to an app without a user.
func (c *Claims) AppOnly() bool { return c.Scp == "" }

// Scopes returns the delegated permissions.
func (c *Claims) Scopes() []string { return strings.Fields(c.Scp) }

// tokenLifetime is how long a lab token is valid: the identity platform's
// default access token lifetime is "between 60-90 minutes" (Configurable
// token lifetimes, https://learn.microsoft.com/en-us/entra/identity-platform/configurable-token-lifetimes);
// the lab uses the lower bound.
const tokenLifetime = time.Hour

// Authority issues and verifies the lab's tokens and holds its app
// registrations.
type Authority struct {
	key *ecdsa.PrivateKey
	kid string
	now func() time.Time

	mu   sync.Mutex
	apps map[string]lab.App // by lower-case client id
}

// NewAuthority makes a signing key and registers the default app with a
// fresh secret.
func NewAuthority() (*Authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("lab: token signing key: %w", err)
	}
	sum := sha256.Sum256(append(key.PublicKey.X.Bytes(), key.PublicKey.Y.Bytes()...))
	a := &Authority{key: key, kid: hex.EncodeToString(sum[:8]), now: time.Now, apps: map[string]lab.App{}}
	a.Register(lab.App{Name: "rebind lab", ClientID: lab.DefaultAppID, Secret: randomSecret(), Roles: lab.DefaultAppRoles})
	return a, nil
}

func randomSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Register adds or replaces an app registration. An app with neither a
// secret nor a certificate gets a random secret.
func (a *Authority) Register(app lab.App) lab.App {
	if app.Secret == "" && len(app.Certificates) == 0 {
		app.Secret = randomSecret()
	}
	app.Roles = slices.Clone(app.Roles)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.apps[strings.ToLower(app.ClientID)] = app
	return app
}

// App returns the registration of clientID.
func (a *Authority) App(clientID string) (lab.App, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	app, ok := a.apps[strings.ToLower(clientID)]
	return app, ok
}

// Apps returns every registration.
func (a *Authority) Apps() []lab.App {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]lab.App, 0, len(a.apps))
	for _, app := range a.apps {
		out = append(out, app)
	}
	slices.SortFunc(out, func(x, y lab.App) int { return strings.Compare(x.ClientID, y.ClientID) })
	return out
}

// errBadSecret and friends are why a client credentials request failed.
var (
	errUnknownApp = errors.New("unknown app")
	errBadSecret  = errors.New("invalid client secret")
)

// appToken issues an app-only token for clientID if secret is its own.
func (a *Authority) appToken(issuer, tid, clientID, secret, aud string) (string, Claims, error) {
	app, ok := a.App(clientID)
	if !ok {
		return "", Claims{}, errUnknownApp
	}
	if app.Secret == "" || subtle.ConstantTimeCompare([]byte(app.Secret), []byte(secret)) != 1 {
		return "", Claims{}, errBadSecret
	}
	return a.issueApp(app, issuer, tid, aud)
}

// issueApp signs an app-only token for app.
func (a *Authority) issueApp(app lab.App, issuer, tid, aud string) (string, Claims, error) {
	c := Claims{Aud: aud, Iss: issuer, Tid: tid, AppID: app.ClientID, Idtyp: "app", Roles: slices.Clone(app.Roles), Oid: app.ClientID}
	tok, err := a.Sign(c)
	return tok, c, err
}

// Sign stamps c with its times and version and signs it.
func (a *Authority) Sign(c Claims) (string, error) {
	now := a.now()
	c.Ver = "1.0"
	c.Iat, c.Nbf = now.Unix(), now.Add(-5*time.Minute).Unix()
	if c.Exp == 0 {
		c.Exp = now.Add(tokenLifetime).Unix()
	}
	header, err := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": a.kid})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signing := b64(header) + "." + b64(payload)
	sum := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, a.key, sum[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + b64(sig), nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Verify checks a token's signature and lifetime and returns its claims.
func (a *Authority) Verify(token string) (*Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("IDX14100: JWT is not well formed, there are no dots (.).")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, errors.New("the token's signature is not valid")
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &header) != nil || header.Alg != "ES256" || header.Kid != a.kid {
		return nil, errors.New("the token was not signed by this lab")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(&a.key.PublicKey, sum[:], r, s) {
		return nil, errors.New("the token's signature is not valid")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("the token's payload is not base64url")
	}
	var c Claims
	if err := json.Unmarshal(pb, &c); err != nil {
		return nil, errors.New("the token's payload is not JSON")
	}
	now := a.now().Unix()
	if now >= c.Exp {
		return nil, errors.New("Lifetime validation failed, the token is expired.")
	}
	if now < c.Nbf {
		return nil, errors.New("Lifetime validation failed, the token is not yet valid.")
	}
	return &c, nil
}

// jwk is the lab's signing key as a JSON Web Key.
func (a *Authority) jwk() map[string]any {
	x := make([]byte, 32)
	y := make([]byte, 32)
	a.key.PublicKey.X.FillBytes(x)
	a.key.PublicKey.Y.FillBytes(y)
	return map[string]any{"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": a.kid, "x": b64(x), "y": b64(y)}
}

// claimsKey carries a request's verified token claims in its context.
type claimsKey struct{}

// withClaims returns ctx carrying c.
func withClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFrom returns the verified claims of the request's token, nil when
// the lab serves without tokens.
func ClaimsFrom(ctx context.Context) *Claims {
	c, _ := ctx.Value(claimsKey{}).(*Claims)
	return c
}
