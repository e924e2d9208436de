// Package credential gets rebind's access tokens for Microsoft Graph and the
// Exchange admin API from azidentity, so that the `entra`, `exo` and `adsync`
// targets authenticate the same way without each of them depending on the
// Graph SDK.
//
// Credentials come from the environment, never from a runbook:
// DefaultAzureCredential tries, in order, the AZURE_* environment variables
// (client secret or certificate), workload identity, a managed identity and
// the Azure CLI's login. A target that says `device_code = true` signs a
// person in with the device code flow instead. Against a lab tenant (Lab)
// the credential is the lab's own: azidentity's client secret credential
// with the lab as authority host, the app the lab publishes (or
// $REBIND_LAB_CLIENT_ID and $REBIND_LAB_CLIENT_SECRET, or a ready token in
// $REBIND_LAB_TOKEN); the environment's AZURE_* credentials never reach a
// lab.
package credential

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/rebind-dev/rebind/lab/control"
)

// Options choose how a credential is built.
type Options struct {
	// TenantID is the directory to sign in to; "" lets the environment
	// (AZURE_TENANT_ID) or the credential decide.
	TenantID string
	// DeviceCode signs a person in with the device code flow; the prompt
	// (a URL and a code, nothing secret) is written to Prompt.
	DeviceCode bool
	// ClientID is the application used for the device code flow; "" uses
	// AZURE_CLIENT_ID or azidentity's default public client.
	ClientID string
	// Prompt receives the device code instructions; nil means os.Stderr.
	Prompt io.Writer
}

// LabToken is the bearer token sent to a lab that serves without tokens
// (anonymous): it is checked by nothing.
const LabToken = "rebind-lab-token"

// Environment variables that choose a lab credential other than the lab's
// default app.
const (
	EnvLabClientID     = "REBIND_LAB_CLIENT_ID"
	EnvLabClientSecret = "REBIND_LAB_CLIENT_SECRET"
	// EnvLabClientCertificate names a PEM file holding the certificate and
	// private key of the REBIND_LAB_CLIENT_ID app, used instead of a
	// secret.
	EnvLabClientCertificate = "REBIND_LAB_CLIENT_CERTIFICATE"
	EnvLabToken             = "REBIND_LAB_TOKEN"
)

// Lab connects to the lab at base: an HTTP client that verifies its
// certificate (control.TLSConfig), its endpoints, and the credential to
// get its tokens with. A lab that serves without tokens gets LabToken.
func Lab(ctx context.Context, base string, getenv func(string) string) (azcore.TokenCredential, *http.Client, control.Endpoints, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	tr, err := control.Transport(base, getenv)
	if err != nil {
		return nil, nil, control.Endpoints{}, err
	}
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	ep, err := control.FetchEndpoints(ctx, hc, base)
	if err != nil {
		return nil, nil, ep, err
	}
	if tok := getenv(EnvLabToken); tok != "" {
		return Static(tok), hc, ep, nil
	}
	if ep.TokenEndpoint == "" {
		return Static(LabToken), hc, ep, nil
	}
	id, secret := ep.ClientID, ep.ClientSecret
	if v := getenv(EnvLabClientID); v != "" {
		id, secret = v, getenv(EnvLabClientSecret)
	}
	if strings.HasPrefix(ep.TokenEndpoint, "http://") {
		// A lab served with --plain-http: MSAL takes https authorities
		// only, so the same client credentials request is made here.
		if getenv(EnvLabClientCertificate) != "" {
			return nil, nil, ep, fmt.Errorf("credential: lab %s: a certificate credential needs the lab over HTTPS (it is served with --plain-http)", base)
		}
		return &plainLabCredential{hc: hc, endpoint: ep.TokenEndpoint, id: id, secret: secret}, hc, ep, nil
	}
	opts := azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: ep.Authority}, Transport: hc}
	if f := getenv(EnvLabClientCertificate); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, ep, fmt.Errorf("credential: lab %s: %s: %w", base, EnvLabClientCertificate, err)
		}
		certs, key, err := azidentity.ParseCertificates(b, nil)
		if err != nil {
			return nil, nil, ep, fmt.Errorf("credential: lab %s: %s %s: %w", base, EnvLabClientCertificate, f, err)
		}
		c, err := azidentity.NewClientCertificateCredential(ep.TenantID, id, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
		if err != nil {
			return nil, nil, ep, fmt.Errorf("credential: lab %s: %w", base, err)
		}
		return c, hc, ep, nil
	}
	// The lab is the authority host; with instance discovery disabled
	// MSAL reads {host}/{tenant}/v2.0/.well-known/openid-configuration and
	// calls its token_endpoint (azidentity's DisableInstanceDiscovery,
	// "for ... private clouds": https://learn.microsoft.com/en-us/azure/developer/go/sdk/authentication/credential-chains
	// and ClientSecretCredentialOptions).
	c, err := azidentity.NewClientSecretCredential(ep.TenantID, id, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            opts,
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		return nil, nil, ep, fmt.Errorf("credential: lab %s: %w", base, err)
	}
	return c, hc, ep, nil
}

// plainLabCredential gets client credentials tokens from a lab served over
// plain HTTP, with the request the client credentials flow documents
// (grant_type, client_id, client_secret, scope).
type plainLabCredential struct {
	hc                   *http.Client
	endpoint, id, secret string
}

func (p *plainLabCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {p.id}, "client_secret": {p.secret},
		"scope": {strings.Join(opts.Scopes, " ")}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return azcore.AccessToken{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.hc.Do(req)
	if err != nil {
		return azcore.AccessToken{}, fmt.Errorf("credential: lab token: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil || out.AccessToken == "" {
		return azcore.AccessToken{}, fmt.Errorf("credential: lab token: %s: %s %s", resp.Status, out.Error, out.Description)
	}
	return azcore.AccessToken{Token: out.AccessToken, ExpiresOn: time.Now().Add(time.Duration(out.ExpiresIn) * time.Second)}, nil
}

// New returns the credential the options describe.
func New(o Options) (azcore.TokenCredential, error) {
	if o.DeviceCode {
		prompt := o.Prompt
		if prompt == nil {
			prompt = os.Stderr
		}
		clientID := o.ClientID
		if clientID == "" {
			clientID = os.Getenv("AZURE_CLIENT_ID")
		}
		c, err := azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
			TenantID: o.TenantID,
			ClientID: clientID,
			UserPrompt: func(ctx context.Context, m azidentity.DeviceCodeMessage) error {
				_, err := fmt.Fprintln(prompt, m.Message)
				return err
			},
		})
		if err != nil {
			return nil, fmt.Errorf("credential: device code sign-in: %w", err)
		}
		return c, nil
	}
	c, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{TenantID: o.TenantID})
	if err != nil {
		return nil, fmt.Errorf("credential: no credential in the environment (set AZURE_TENANT_ID, AZURE_CLIENT_ID and "+
			"AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH, use a managed identity, `az login`, or device_code = true): %w", err)
	}
	return c, nil
}

// Static returns a credential that always hands out token, for lab tenants
// and tests.
func Static(token string) azcore.TokenCredential { return staticCredential(token) }

type staticCredential string

func (s staticCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TokenSource hands out bearer tokens for one audience. Source implements
// it; tests hand in fixed tokens.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

var _ TokenSource = (*Source)(nil)

// Source hands out bearer tokens for one scope, caching each until shortly
// before it expires. It is safe for concurrent use.
type Source struct {
	cred  azcore.TokenCredential
	scope string

	mu  chan struct{}
	tok azcore.AccessToken
}

// NewSource returns a token source for scope, e.g.
// "https://outlook.office365.com/.default".
func NewSource(cred azcore.TokenCredential, scope string) *Source {
	return &Source{cred: cred, scope: scope, mu: make(chan struct{}, 1)}
}

// Token returns a valid bearer token. The error never contains the token.
func (s *Source) Token(ctx context.Context) (string, error) {
	select {
	case s.mu <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.mu }()
	if s.tok.Token != "" && time.Until(s.tok.ExpiresOn) > 2*time.Minute {
		return s.tok.Token, nil
	}
	tok, err := s.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.scope}})
	if err != nil {
		return "", fmt.Errorf("credential: token for %s: %w", s.scope, err)
	}
	s.tok = tok
	return tok.Token, nil
}

// LabRoots returns the certificate pool a lab at base is verified with:
// the system's roots plus the lab's CA (control.TLSConfig); nil for a lab
// served over plain http.
func LabRoots(base string, getenv func(string) string) (*x509.CertPool, error) {
	cfg, err := control.TLSConfig(base, getenv)
	if err != nil || cfg == nil {
		return nil, err
	}
	return cfg.RootCAs, nil
}
