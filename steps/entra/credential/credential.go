// Package credential gets rebind's access tokens for Microsoft Graph and the
// Exchange admin API from azidentity, so that the `entra`, `exo` and `adsync`
// targets authenticate the same way without each of them depending on the
// Graph SDK.
//
// Credentials come from the environment, never from a runbook:
// DefaultAzureCredential tries, in order, the AZURE_* environment variables
// (client secret or certificate), workload identity, a managed identity and
// the Azure CLI's login. A target that says `device_code = true` signs a
// person in with the device code flow instead. Against a lab tenant a fixed
// token is used: the lab accepts any bearer token, and no real credential
// should ever be sent to it.
package credential

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
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
	// Lab, when set, returns a fixed token for a lab tenant.
	Lab bool
}

// LabToken is the bearer token sent to a lab tenant. It is not a secret:
// the lab accepts any token, and throttles per token value.
const LabToken = "rebind-lab-token"

// New returns the credential the options describe.
func New(o Options) (azcore.TokenCredential, error) {
	if o.Lab {
		return Static(LabToken), nil
	}
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
