// Package credential gets rebind's access tokens for Microsoft Graph and the
// Exchange admin API from azidentity, so that the `entra`, `exo` and `adsync`
// targets authenticate the same way without each of them depending on the
// Graph SDK.
//
// Credentials come from the environment, never from a runbook: a ready
// token in $REBIND_ACCESS_TOKEN; else an app's client secret or certificate
// in the AZURE_* variables (read through the target's Getenv, so that a
// caller can hand a run its own environment); else azidentity's
// DefaultAzureCredential (workload identity, a managed identity, the Azure
// CLI's login). A target that says `device_code = true` signs a person in
// with the device code flow instead.
package credential

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
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
	// AuthorityHost is the Microsoft Entra authority to sign in at, e.g.
	// https://login.microsoftonline.us/ for a national cloud; "" means
	// $AZURE_AUTHORITY_HOST or the public cloud's.
	AuthorityHost string
	// HTTP carries the token requests (one that trusts a private CA, say);
	// nil means azidentity's default.
	HTTP *http.Client
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
}

// EnvAccessToken names the environment variable that may hold a bearer
// token obtained elsewhere (`az account get-access-token`, a privileged
// session): it is used as it is, never stored, and never refreshed.
const EnvAccessToken = "REBIND_ACCESS_TOKEN"

// New returns the credential the options describe.
func New(o Options) (azcore.TokenCredential, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if tok := getenv(EnvAccessToken); tok != "" {
		return Static(tok), nil
	}
	authority := o.AuthorityHost
	if authority == "" {
		authority = getenv("AZURE_AUTHORITY_HOST")
	}
	copts := azcore.ClientOptions{}
	if authority != "" {
		copts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: authority}
	}
	if o.HTTP != nil {
		copts.Transport = o.HTTP
	}
	// Instance discovery asks login.microsoftonline.com about the
	// authority; azidentity documents turning it off only for disconnected
	// and private clouds (DisableInstanceDiscovery, ClientSecretCredentialOptions),
	// so it stays on for the public and national clouds it knows.
	noDiscovery := authority != "" && !knownCloud(authority)
	tenant := o.TenantID
	if tenant == "" {
		tenant = getenv("AZURE_TENANT_ID")
	}
	if o.DeviceCode {
		prompt := o.Prompt
		if prompt == nil {
			prompt = os.Stderr
		}
		clientID := o.ClientID
		if clientID == "" {
			clientID = getenv("AZURE_CLIENT_ID")
		}
		c, err := azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
			ClientOptions: copts, DisableInstanceDiscovery: noDiscovery,
			TenantID: tenant,
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
	// The app credentials EnvironmentCredential reads
	// (https://learn.microsoft.com/azure/developer/go/sdk/authentication/authentication-overview),
	// taken through getenv.
	if id := getenv("AZURE_CLIENT_ID"); id != "" && tenant != "" {
		if secret := getenv("AZURE_CLIENT_SECRET"); secret != "" {
			c, err := azidentity.NewClientSecretCredential(tenant, id, secret, &azidentity.ClientSecretCredentialOptions{
				ClientOptions: copts, DisableInstanceDiscovery: noDiscovery})
			if err != nil {
				return nil, fmt.Errorf("credential: AZURE_CLIENT_SECRET: %w", err)
			}
			return c, nil
		}
		if f := getenv("AZURE_CLIENT_CERTIFICATE_PATH"); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("credential: AZURE_CLIENT_CERTIFICATE_PATH: %w", err)
			}
			var pw []byte
			if p := getenv("AZURE_CLIENT_CERTIFICATE_PASSWORD"); p != "" {
				pw = []byte(p)
			}
			certs, key, err := azidentity.ParseCertificates(b, pw)
			if err != nil {
				return nil, fmt.Errorf("credential: AZURE_CLIENT_CERTIFICATE_PATH %s: %w", f, err)
			}
			c, err := azidentity.NewClientCertificateCredential(tenant, id, certs, key, &azidentity.ClientCertificateCredentialOptions{
				ClientOptions: copts, DisableInstanceDiscovery: noDiscovery})
			if err != nil {
				return nil, fmt.Errorf("credential: AZURE_CLIENT_CERTIFICATE_PATH %s: %w", f, err)
			}
			return c, nil
		}
	}
	c, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
		ClientOptions: copts, DisableInstanceDiscovery: noDiscovery, TenantID: o.TenantID})
	if err != nil {
		return nil, fmt.Errorf("credential: no credential in the environment (set AZURE_TENANT_ID, AZURE_CLIENT_ID and "+
			"AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH, use a managed identity, `az login`, or device_code = true): %w", err)
	}
	return c, nil
}

// knownCloud reports whether authority is the authority host of a cloud
// azidentity knows (public, US Government, China).
func knownCloud(authority string) bool {
	norm := func(s string) string { return strings.TrimSuffix(strings.ToLower(s), "/") }
	for _, c := range []cloud.Configuration{cloud.AzurePublic, cloud.AzureGovernment, cloud.AzureChina} {
		if norm(c.ActiveDirectoryAuthorityHost) == norm(authority) {
			return true
		}
	}
	return false
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

// DefaultScope is the .default scope of the resource whose identifier URI
// is root (a service root such as https://graph.microsoft.com, a national
// cloud's or a lab's): "The scope parameter value is constructed by using
// the identifier URI for the resource and .default, separated by a forward
// slash (/)" (https://learn.microsoft.com/entra/identity-platform/scopes-oidc#the-default-scope).
// A national cloud's Graph is a resource of its own
// (https://learn.microsoft.com/graph/sdks/national-clouds).
func DefaultScope(root string) string { return strings.TrimSuffix(root, "/") + "/.default" }

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
