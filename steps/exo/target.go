// Package exo provides rebind's Exchange Online step types and the `exo`
// target: reading recipients and mailboxes with their ExchangeGuid,
// ArchiveGuid and hold (exo_recipient, exo_mailbox), purging a soft-deleted
// recipient that blocks another's provisioning (exo_recipient_purge) and
// litigation hold on or off (exo_hold).
//
// Exchange Online is reached through the admin API the
// ExchangeOnlineManagement module uses: POST
// https://outlook.office365.com/adminapi/beta/{organization}/InvokeCommand
// with a CmdletInput, over plain net/http. It is not a documented public
// API; the request and answer shapes are those of the module's REST mode.
package exo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/credential"
	"github.com/rebind-dev/rebind/steps/httpx"
)

// DefaultURL is Exchange Online's global endpoint.
const DefaultURL = "https://outlook.office365.com"

// scope is the token audience of the Exchange admin API.
const scope = "https://outlook.office365.com/.default"

// maxAttempts bounds how often one call is sent after 429, 503 or 504.
const maxAttempts = 10

type targetType struct{}

func init() {
	steps.RegisterTarget(targetType{})
}

func (targetType) Info() steps.TargetInfo {
	return steps.TargetInfo{
		Name: "exo",
		Doc: "An Exchange Online organisation through the Exchange admin API (the REST surface of the " +
			"ExchangeOnlineManagement module). Tokens come from azidentity's environment chain, as for the entra target; " +
			"an app needs Exchange.ManageAsApp and an Exchange role.",
		Schema: credential.With(steps.Schema{
			"organization": {Type: cty.String, Doc: "The tenant's domain, e.g. contoso.onmicrosoft.com (required)."},
			"url":          {Type: cty.String, Doc: "The Exchange endpoint, https://outlook.office365.com by default."},
		}),
	}
}

// settings reads the target's organization ("" when unset) and
// endpoint (DefaultURL when unset).
func settings(cfg steps.TargetConfig) (org, base string) {
	org, _ = steps.String(cfg.Config, "organization")
	base, ok := steps.String(cfg.Config, "url")
	if !ok {
		base = DefaultURL
	}
	return org, base
}

func (targetType) Open(ctx context.Context, cfg steps.TargetConfig) (any, error) {
	org, base := settings(cfg)
	if org == "" {
		return nil, fmt.Errorf("exo: target %s: organization is required (the tenant's domain, e.g. contoso.onmicrosoft.com)", cfg.Name)
	}
	if err := httpx.RequireHTTPS("url", base); err != nil {
		return nil, fmt.Errorf("exo: target %s: %w", cfg.Name, err)
	}
	endpoint := strings.TrimSuffix(base, "/") + "/adminapi/beta/" + url.PathEscape(org) + "/InvokeCommand"
	sign, err := credential.ForTarget(cfg)
	if err != nil {
		return nil, fmt.Errorf("exo: target %s: %w", cfg.Name, err)
	}
	hc := &http.Client{Transport: sign.Transport, Timeout: 2 * time.Minute}
	cred, err := credential.New(sign.Options)
	if err != nil {
		return nil, fmt.Errorf("exo: target %s: %w", cfg.Name, err)
	}
	return &Client{Endpoint: endpoint, Organization: org, Tokens: credential.NewSource(cred, scope), HTTP: hc}, nil
}

// Client calls cmdlets through InvokeCommand. It is safe for concurrent use.
type Client struct {
	// Endpoint is the InvokeCommand URL.
	Endpoint string
	// Organization is the tenant's domain, used for X-AnchorMailbox.
	Organization string
	// Tokens hands out bearer tokens for the Exchange admin API.
	Tokens credential.TokenSource
	HTTP   *http.Client
}

// Error is a cmdlet's failure as the admin API reports it.
type Error struct {
	Status int
	// Exception is the .NET exception's short name, e.g.
	// ManagementObjectNotFoundException.
	Exception string
	Message   string
	// RetryAfter is the server's Retry-After, 0 when none.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Exception != "" {
		return fmt.Sprintf("Exchange answered %d %s: %s", e.Status, e.Exception, e.Message)
	}
	return fmt.Sprintf("Exchange answered %d: %s", e.Status, e.Message)
}

// NotFound reports whether the cmdlet found no such object.
func (e *Error) NotFound() bool {
	return e.Status == http.StatusNotFound || strings.HasSuffix(e.Exception, "ManagementObjectNotFoundException")
}

// exceptionMessage splits "|Microsoft.Exchange....SomeException|text".
var exceptionMessage = regexp.MustCompile(`\|([A-Za-z0-9_.]+)\|(.*)`)

// Invoke runs one cmdlet and returns every object it output, following
// @odata.nextLink. 429, 503 and 504 are sent again after Retry-After (or a
// growing delay without one).
func (c *Client) Invoke(ctx context.Context, cmdlet string, params map[string]any) ([]json.RawMessage, error) {
	out, _, err := c.invokePages(ctx, cmdlet, params, 0)
	return out, err
}

// invokePages runs a cmdlet and follows @odata.nextLink for at most
// maxPages pages (any number when maxPages is 0); complete is false when
// there were more.
func (c *Client) invokePages(ctx context.Context, cmdlet string, params map[string]any, maxPages int) ([]json.RawMessage, bool, error) {
	body, err := json.Marshal(map[string]any{"CmdletInput": map[string]any{"CmdletName": cmdlet, "Parameters": params}})
	if err != nil {
		return nil, false, fmt.Errorf("exo: %s: %w", cmdlet, err)
	}
	var out []json.RawMessage
	next := c.Endpoint
	for pages := 0; next != ""; pages++ {
		if pages == maxPages && maxPages > 0 {
			return nil, false, nil
		}
		var page struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"@odata.nextLink"`
		}
		if err := c.post(ctx, next, body, &page); err != nil {
			return nil, false, fmt.Errorf("exo: %s: %w", cmdlet, err)
		}
		out = append(out, page.Value...)
		next = page.NextLink
	}
	return out, true, nil
}

// post sends one request, retrying throttled and unavailable answers.
func (c *Client) post(ctx context.Context, u string, body []byte, out any) error {
	_, err := httpx.Retry(ctx, maxAttempts, func(int) (time.Duration, error) {
		err := c.postOnce(ctx, u, body, out)
		var ee *Error
		if !errors.As(err, &ee) ||
			(ee.Status != http.StatusTooManyRequests && ee.Status != http.StatusServiceUnavailable && ee.Status != http.StatusGatewayTimeout) {
			return -1, err
		}
		return ee.RetryAfter, err
	})
	return err
}

func (c *Client) postOnce(ctx context.Context, u string, body []byte, out any) error {
	resp, b, err := httpx.Send(ctx, c.HTTP, c.Tokens, http.MethodPost, u, bytes.NewReader(body), map[string]string{
		"Content-Type": "application/json",
		"Accept":       "application/json",
		// The admin API routes by this mailbox, as the module does for
		// app-only sessions.
		"X-AnchorMailbox": "UPN:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@" + c.Organization,
	}, 64<<20)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return decodeError(resp, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("read the answer: %w", err)
	}
	return nil
}

// decodeError reads an admin API error answer. Microsoft documents no
// schema for InvokeCommand's errors; its public clients read the cmdlet's
// exception from error.details[].message ("|type|text"), else from
// error.innererror.internalException.message, and only last from
// error.message (CIPP-API's New-ExoRequest.ps1,
// github.com/KelvinTegelaar/CIPP-API), the error object of Microsoft's
// REST API guidelines. rebind reads them in that order.
func decodeError(resp *http.Response, b []byte) *Error {
	e := &Error{Status: resp.StatusCode}
	e.RetryAfter = httpx.ParseRetryAfter(resp.Header.Get("Retry-After"))
	type inner struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Details []struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"details"`
			InnerError *struct {
				inner
				InternalException *inner `json:"internalException"`
			} `json:"innererror"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &body) != nil {
		e.Message = strings.TrimSpace(string(b))
		if len(e.Message) > 300 {
			e.Message = e.Message[:300]
		}
		return e
	}
	msg, typ := body.Error.Message, ""
	if ie := body.Error.InnerError; ie != nil {
		switch {
		case ie.InternalException != nil && ie.InternalException.Message != "":
			msg, typ = ie.InternalException.Message, ie.InternalException.Type
		case ie.Message != "":
			msg, typ = ie.Message, ie.Type
		}
	}
	for _, d := range body.Error.Details {
		if d.Message != "" {
			msg, typ = d.Message, ""
			break
		}
	}
	e.Message = msg
	if m := exceptionMessage.FindStringSubmatch(msg); m != nil {
		typ, e.Message = m[1], strings.TrimSpace(m[2])
	}
	switch {
	case typ != "":
		if i := strings.LastIndexByte(typ, '.'); i >= 0 {
			typ = typ[i+1:]
		}
		e.Exception = typ
	case body.Error.Code != "":
		e.Exception = body.Error.Code
	}
	return e
}

// wrap gives an Exchange error rebind's shape: steps.ErrNotFound for a
// missing object, a RetryAfterError for throttling that outlasted the
// retries, and a PermanentError for refusals.
func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	var ee *Error
	if !errors.As(err, &ee) {
		return fmt.Errorf("exo: %s: %w", what, err)
	}
	if ee.NotFound() {
		return fmt.Errorf("exo: %s: %w (%v)", what, steps.ErrNotFound, ee)
	}
	return httpx.Refusal(fmt.Errorf("exo: %s: %w", what, ee), ee.Status, ee.RetryAfter, 30*time.Second,
		"check Exchange.ManageAsApp and the app's Exchange role")
}

// isNotFound reports whether err is Exchange's "couldn't be found".
func isNotFound(err error) bool {
	var ee *Error
	return errors.As(err, &ee) && ee.NotFound()
}

// client returns the call's target as a Client.
func client(call steps.Call) (*Client, error) { return steps.TargetOf[*Client](call, "exo") }
