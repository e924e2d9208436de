package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Lab is a client of a running lab tenant's control API (/lab/...). It is
// the one place outside package lab that knows the API's paths and
// answers: `rebind lab`, rehearsals and the lab's Sleeper all go through
// it.
type Lab struct {
	base string
	hc   *http.Client
}

// Dial returns a client of the lab at base, verifying its certificate as
// TLSConfig says (getenv nil means os.Getenv). It does not connect yet.
func Dial(base string, getenv func(string) string) (*Lab, error) {
	hc, err := Client(base, getenv, 2*time.Minute)
	if err != nil {
		return nil, err
	}
	return &Lab{base: strings.TrimRight(base, "/"), hc: hc}, nil
}

// URL is the lab's base URL.
func (l *Lab) URL() string { return l.base }

// HTTP is the client that verifies the lab's certificate.
func (l *Lab) HTTP() *http.Client { return l.hc }

// ErrSyncOff is the lab's answer (409) to a cycle while the tenant's
// directory synchronization is off or still turning off.
var ErrSyncOff = errors.New("directory synchronization is off for the tenant (or still turning off)")

// Endpoints reads GET /lab/endpoints.
func (l *Lab) Endpoints(ctx context.Context) (Endpoints, error) {
	var ep Endpoints
	body, _, err := l.call(ctx, http.MethodGet, "/lab/endpoints")
	if err != nil {
		return ep, err
	}
	if err := json.Unmarshal(body, &ep); err != nil {
		return ep, fmt.Errorf("lab %s: /lab/endpoints: %w", l.base, err)
	}
	return ep, nil
}

// DelegatedTokenRequest is what POST /lab/token takes: the user a
// delegated token is for, its delegated permissions and directory roles.
// The lab serves no interactive sign-in; this is how a test, or a person
// trying what a signed-in user may do, gets such a token.
type DelegatedTokenRequest struct {
	// User is the signed-in user's UPN.
	User string `json:"user"`
	// Scp lists the delegated permissions, space separated.
	Scp string `json:"scp"`
	// Wids lists the user's directory role template ids.
	Wids []string `json:"wids,omitempty"`
	// Resource is "graph" (the default) or "exchange".
	Resource string `json:"resource,omitempty"`
}

// DelegatedToken mints a delegated access token (POST /lab/token).
func (l *Lab) DelegatedToken(ctx context.Context, req DelegatedTokenRequest) (string, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	body, _, err := do(ctx, l.hc, http.MethodPost, l.base+"/lab/token", b)
	if err != nil {
		return "", err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("lab %s: /lab/token answered no access_token: %s", l.base, body)
	}
	return tok.AccessToken, nil
}

// SyncResult is what POST /lab/sync answers about the cycle it ran.
type SyncResult struct {
	Policy  string    `json:"policy"`
	Started time.Time `json:"started"`
	Status  string    `json:"status"`
	Added   int       `json:"added"`
	Updated int       `json:"updated"`
	Deleted int       `json:"deleted"`
	Errors  []struct {
		Code   string `json:"code"`
		DN     string `json:"dn"`
		Detail string `json:"detail"`
	} `json:"errors"`
}

// Sync runs a sync cycle of policy (Delta or Initial) and returns its
// result once it is over; ErrSyncOff when the tenant's sync is off.
func (l *Lab) Sync(ctx context.Context, policy string) (SyncResult, []byte, error) {
	var res SyncResult
	body, code, err := l.call(ctx, http.MethodPost, "/lab/sync?policy="+url.QueryEscape(policy))
	if code == http.StatusConflict {
		return res, body, ErrSyncOff
	}
	if err != nil {
		return res, body, err
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return res, body, fmt.Errorf("lab %s: /lab/sync: %w", l.base, err)
	}
	return res, body, nil
}

// Scheduler reads whether the lab's Connect scheduler runs its cycles
// (GET /lab/scheduler).
func (l *Lab) Scheduler(ctx context.Context) (bool, error) {
	return l.scheduler(ctx, http.MethodGet, "")
}

// SetScheduler turns the scheduler's cycles on or off and returns the new
// setting.
func (l *Lab) SetScheduler(ctx context.Context, on bool) (bool, error) {
	return l.scheduler(ctx, http.MethodPost, "?syncCycleEnabled="+strconv.FormatBool(on))
}

func (l *Lab) scheduler(ctx context.Context, method, query string) (bool, error) {
	body, _, err := l.call(ctx, method, "/lab/scheduler"+query)
	if err != nil {
		return false, err
	}
	var st struct {
		SyncCycleEnabled bool `json:"syncCycleEnabled"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return false, fmt.Errorf("lab %s: /lab/scheduler: %w", l.base, err)
	}
	return st.SyncCycleEnabled, nil
}

// Clock reads the lab's virtual time.
func (l *Lab) Clock(ctx context.Context) ([]byte, error) {
	body, _, err := l.call(ctx, http.MethodGet, "/lab/clock")
	return body, err
}

// Advance moves the lab's virtual clock forward by d and returns the
// answer, which holds the new time.
func (l *Lab) Advance(ctx context.Context, d time.Duration) ([]byte, error) {
	body, _, err := l.call(ctx, http.MethodPost, "/lab/clock?advance="+url.QueryEscape(d.String()))
	return body, err
}

// Dump returns the lab's whole state, a valid scenario file.
func (l *Lab) Dump(ctx context.Context) ([]byte, error) {
	body, _, err := l.call(ctx, http.MethodGet, "/lab/dump")
	return body, err
}

// call makes one control API call without a body (see do).
func (l *Lab) call(ctx context.Context, method, path string) ([]byte, int, error) {
	return do(ctx, l.hc, method, l.base+path, nil)
}

// New returns a client of the lab at base that makes its calls with hc
// (one that trusts the lab's CA).
func New(base string, hc *http.Client) *Lab {
	return &Lab{base: strings.TrimRight(base, "/"), hc: hc}
}
