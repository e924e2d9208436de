// Package entra provides rebind's Entra ID step types and the `entra` target,
// which reach the tenant through Microsoft Graph v1.0 with msgraph-sdk-go and
// azidentity: reading users (entra_user, entra_users) and the tenant
// (entra_tenant), restoring a user from the recycle bin (entra_user_restored),
// setting or clearing its immutable ID (entra_immutable_id), turning directory
// synchronisation on or off (entra_dir_sync), waiting until sync has made a
// user match (entra_user_state, with `await`), purging a deleted user
// (entra_user_purge) and asking the services to provision a user again
// (entra_user_reprovision).
//
// This is the only package of rebind that imports the Graph SDK: its cold
// build is slow and large, and the lab's Graph server keeps its own JSON
// types so that a wrong shape on either side shows up in tests.
//
// Every GUID <-> immutable ID conversion goes through package anchor.
package entra

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	kauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/credential"
	"github.com/rebind-dev/rebind/steps/httpx"
)

// DefaultGraphURL is Microsoft Graph's global endpoint.
const DefaultGraphURL = "https://graph.microsoft.com"

// Request bodies are sent uncompressed. With kiota-http-go 1.5.4 and the
// middleware in map order, a gzipped POST or PATCH that the retry handler
// sends again after a 429 can leave with an empty body ("ContentLength=293
// with Body length 0"): TestFanOutUnderFaults failed that way until
// compression was turned off, and TestRetrySendsTheBodyAgain keeps it so.
// Graph does not need compressed requests.
//
// Retry settings of the SDK's retry handler, which honours Retry-After on
// 429, 503 and 504. Ten is the handler's ceiling; the first delay (used when
// the answer has no Retry-After) doubles on each attempt.
const (
	maxRetries        = 10
	retryDelaySeconds = 1
)

// retention is how long Entra ID keeps a deleted user in its recycle bin.
const retention = 30 * 24 * time.Hour

type targetType struct{}

func init() {
	steps.RegisterTarget(targetType{})
}

func (targetType) Info() steps.TargetInfo {
	return steps.TargetInfo{
		Name: "entra",
		Doc: "An Entra ID tenant through Microsoft Graph v1.0. Credentials come from the environment through azidentity " +
			"(AZURE_TENANT_ID, AZURE_CLIENT_ID with AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH, workload or " +
			"managed identity, or `az login`), or from a device code sign-in when device_code = true; never from the runbook.",
		Schema: credential.With(steps.Schema{
			"graph_url": {Type: cty.String, Doc: "The Graph endpoint, https://graph.microsoft.com by default (a national cloud's otherwise)."},
			"batch":     {Type: cty.Bool, Doc: "Coalesce concurrent immutable ID writes of a fan-out into $batch requests of up to 20 (default true)."},
			"throttle_tier": {Type: cty.String, Doc: "The tenant size whose Graph resource unit quota requests are paced under: small (3,500 per 10 s, " +
				"the default), medium (5,000) or large (8,000), with the write quota of 3,000 per 150 s; see " + throttlingLimits +
				". none sends them unpaced (a lab whose throttling is lifted)."},
		}),
	}
}

// graphEndpoint is the target's Graph endpoint: graph_url, DefaultGraphURL
// when unset.
func graphEndpoint(cfg steps.TargetConfig) string {
	if u, ok := steps.String(cfg.Config, "graph_url"); ok {
		return u
	}
	return DefaultGraphURL
}

func (targetType) Open(ctx context.Context, cfg steps.TargetConfig) (any, error) {
	graphURL := graphEndpoint(cfg)
	batch, ok := steps.Bool(cfg.Config, "batch")
	if !ok {
		batch = true
	}
	if err := httpx.RequireHTTPS("graph_url", graphURL); err != nil {
		return nil, fmt.Errorf("entra: target %s: %w", cfg.Name, err)
	}
	budget, _, err := targetType{}.Budget(cfg)
	if err != nil {
		return nil, err
	}
	sign, err := credential.ForTarget(cfg)
	if err != nil {
		return nil, fmt.Errorf("entra: target %s: %w", cfg.Name, err)
	}
	cred, err := credential.New(sign.Options)
	if err != nil {
		return nil, fmt.Errorf("entra: target %s: %w", cfg.Name, err)
	}
	// The token's scope is graph_url's .default: a national cloud's Graph
	// has its own (https://learn.microsoft.com/graph/sdks/national-clouds).
	c, err := NewClient(ClientOptions{GraphURL: graphURL, Credential: cred, Batch: batch, Transport: sign.Transport, Budget: &budget})
	if err != nil {
		return nil, fmt.Errorf("entra: target %s: %w", cfg.Name, err)
	}
	return c, nil
}

// Client is an open connection to a tenant's Graph endpoint. It is safe for
// concurrent use; steps receive it as Call.Target.
type Client struct {
	graph   *msgraphsdk.GraphServiceClient
	adapter *msgraphsdk.GraphRequestAdapter
	// clock is the service's time, from its answers' Date headers.
	clock *serviceClock
	// batch coalesces concurrent immutable ID writes; nil when off.
	batch *batcher
	// pacer spends the target's budget before every request (and each
	// request of a JSON batch), shared by all the goroutines using it.
	pacer *httpx.Pacer
	// plain carries the bulk reads of read.go, made without the SDK;
	// root is the Graph endpoint without the version, and tokens hands
	// out tokens for it.
	plain  *http.Client
	root   string
	tokens *credential.Source
}

// ClientOptions configure NewClient.
type ClientOptions struct {
	// GraphURL is the endpoint without the version, e.g.
	// https://graph.microsoft.com or a lab's http://127.0.0.1:8080.
	GraphURL string
	// Credential hands out tokens for GraphURL's .default scope.
	Credential azcore.TokenCredential
	// Batch turns on the $batch coalescing of immutable ID writes.
	Batch bool
	// Transport carries the requests (a lab's verifies the lab's CA);
	// nil means the default.
	Transport http.RoundTripper
	// Scope is the token scope; GraphURL + "/.default" when "".
	Scope string
	// Budget is what requests are paced under (see throttle_tier); nil
	// sends them unpaced, counted only.
	Budget *steps.Budget
}

// NewClient builds the Graph SDK's request adapter with rebind's middleware
// (the retry handler configured to honour Retry-After up to ten times) and
// points it at opts.GraphURL.
func NewClient(opts ClientOptions) (*Client, error) {
	root := strings.TrimSuffix(opts.GraphURL, "/")
	u, err := url.Parse(root)
	if err != nil {
		return nil, fmt.Errorf("entra: graph url %q: %w", opts.GraphURL, err)
	}
	host := u.Hostname()
	scope := opts.Scope
	if scope == "" {
		scope = credential.DefaultScope(root)
	}
	auth, err := kauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(
		opts.Credential, []string{scope}, []string{host})
	if err != nil {
		return nil, fmt.Errorf("entra: authentication provider: %w", err)
	}
	mw, err := khttp.GetDefaultMiddlewaresWithOptions(&khttp.RetryHandlerOptions{
		MaxRetries:   maxRetries,
		DelaySeconds: retryDelaySeconds,
		ShouldRetry:  func(time.Duration, int, *http.Request, *http.Response) bool { return true },
	}, khttp.NewCompressionOptionsReference(false))
	if err != nil {
		return nil, fmt.Errorf("entra: middleware: %w", err)
	}
	clientOpts := msgraphsdk.GetDefaultClientOptions()
	mw = append([]khttp.Middleware{msgraphcore.NewGraphTelemetryHandler(&clientOpts)}, mw...)
	parent := opts.Transport
	if parent == nil {
		parent = khttp.GetDefaultTransport()
	}
	budget := steps.Budget{Service: steps.ServiceGraph}
	if opts.Budget != nil {
		budget = *opts.Budget
	}
	// The pacer sits below the SDK's retry handler and the batcher: every
	// request that leaves, sent again or not, spends the budget.
	pacer := httpx.NewPacer(budget, httpCost)
	parent = pacer.Transport(parent)
	clock := &serviceClock{parent: parent}
	hc := khttp.GetDefaultClient(mw...)
	hc.Transport = khttp.NewCustomTransportWithParentTransport(clock, mw...)
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, hc)
	if err != nil {
		return nil, fmt.Errorf("entra: request adapter: %w", err)
	}
	adapter.SetBaseUrl(root + "/v1.0")
	c := &Client{graph: msgraphsdk.NewGraphServiceClient(adapter), adapter: adapter, clock: clock, pacer: pacer,
		plain: &http.Client{Transport: parent, Timeout: 2 * time.Minute}, root: root, tokens: credential.NewSource(opts.Credential, scope)}
	if opts.Batch {
		c.batch = newBatcher(c, batchWindow)
	}
	return c, nil
}

// Close stops the batcher.
func (c *Client) Close() error {
	if c.batch != nil {
		c.batch.close()
	}
	return nil
}

var _ io.Closer = (*Client)(nil)

// now returns the tenant's time: the Date of Graph's latest answer (RFC
// 9110, section 6.6.1: every origin server with a clock sends the time it
// answered), which is when the users being rendered were read, or the wall
// clock before any answer. Days left in the recycle bin count from it, so they agree with
// the service that will purge the user, whatever this machine's clock
// says.
func (c *Client) now() time.Time {
	if t, ok := c.clock.now(); ok {
		return t
	}
	return time.Now().UTC()
}

// serviceClock remembers the Date header of the latest response.
type serviceClock struct {
	parent http.RoundTripper
	mu     sync.Mutex
	date   time.Time // the latest Date answered
}

func (sc *serviceClock) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := sc.parent.RoundTrip(req)
	if err == nil {
		if d, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
			sc.mu.Lock()
			sc.date = d.UTC()
			sc.mu.Unlock()
		}
	}
	return resp, err
}

func (sc *serviceClock) now() (time.Time, bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.date.IsZero() {
		return time.Time{}, false
	}
	return sc.date, true
}

// values renders users as of the tenant's time (a deleted user's days
// left count from it).
func (c *Client) values(ctx context.Context, us ...user) ([]cty.Value, error) {
	now := c.now()
	out := make([]cty.Value, len(us))
	for i, u := range us {
		out[i] = userValue(u, now)
	}
	return out, nil
}

// client returns the call's target as a Client.
func client(call steps.Call) (*Client, error) { return steps.TargetOf[*Client](call, "entra") }

// userCall returns the call's target and the user its `id` or `upn` names,
// what every step and data type about one user starts with.
func userCall(call steps.Call) (*Client, selector, error) {
	c, err := client(call)
	if err != nil {
		return nil, selector{}, err
	}
	sel, err := selectorFrom(call)
	return c, sel, err
}
