package entra

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/rebind-dev/rebind/steps"
)

// setImmutableID writes a user's onPremisesImmutableId; nil writes an
// explicit null, which clears it. Concurrent writes go through the batcher
// when the target has one.
func (c *Client) setImmutableID(ctx context.Context, id string, value *string) error {
	if c.batch != nil {
		body, err := json.Marshal(map[string]*string{"onPremisesImmutableId": value})
		if err != nil {
			return fmt.Errorf("entra: encode the immutable ID: %w", err)
		}
		return c.batch.do(ctx, "PATCH", "/users/"+url.PathEscape(id), body)
	}
	return c.patchImmutableID(ctx, id, value)
}

// patchImmutableID is one PATCH /users/{id} through the SDK. With
// kiota-abstractions-go 1.5.5 and later SetOnPremisesImmutableId(nil) is
// recorded by the backing store as a change and sent as an explicit null
// (TestClearSendsExplicitNull checks the bytes on the wire).
func (c *Client) patchImmutableID(ctx context.Context, id string, value *string) error {
	body := models.NewUser()
	body.SetOnPremisesImmutableId(value)
	_, err := c.graph.Users().ByUserId(id).Patch(ctx, body, nil)
	return err
}

// restoreUser brings a user back from the recycle bin. The SDK's
// Restore().Post sends no body, so the request it builds is given the
// optional parameters as JSON before it is sent.
func (c *Client) restoreUser(ctx context.Context, id string, autoReconcile bool, newUPN string) (user, error) {
	ri, err := c.graph.Directory().DeletedItems().ByDirectoryObjectId(id).Restore().ToPostRequestInformation(ctx, nil)
	if err != nil {
		return user{}, fmt.Errorf("entra: restore %s: %w", id, err)
	}
	params := map[string]any{}
	if autoReconcile {
		params["autoReconcileProxyConflict"] = true
	}
	if newUPN != "" {
		params["newUserPrincipalName"] = newUPN
	}
	if len(params) > 0 {
		b, err := json.Marshal(params)
		if err != nil {
			return user{}, fmt.Errorf("entra: restore %s: %w", id, err)
		}
		ri.SetStreamContentAndContentType(b, "application/json")
	}
	res, err := c.adapter.Send(ctx, ri, models.CreateDirectoryObjectFromDiscriminatorValue, errorMapping)
	if err != nil {
		return user{}, err
	}
	if m, ok := res.(models.Userable); ok {
		return decodeUser(m), nil
	}
	return user{ID: id}, nil
}

// deleteUser moves an active user to the recycle bin.
func (c *Client) deleteUser(ctx context.Context, id string) error {
	return c.graph.Users().ByUserId(id).Delete(ctx, nil)
}

// purgeUser deletes a user in the recycle bin for good.
func (c *Client) purgeUser(ctx context.Context, id string) error {
	return c.graph.Directory().DeletedItems().ByDirectoryObjectId(id).Delete(ctx, nil)
}

// retryProvisioning asks Entra ID to retry the user's service
// provisioning, which has Exchange Online validate the user again:
// POST /users/{id}/retryServiceProvisioning
// (https://learn.microsoft.com/graph/api/user-retryserviceprovisioning; no
// body, 204 No Content), Graph's counterpart of MSOnline's
// Redo-MsolProvisionUser, which "retries the provisioning of a user object
// ... when a previous attempt ... resulted in a validation error".
func (c *Client) retryProvisioning(ctx context.Context, id string) error {
	return c.graph.Users().ByUserId(id).RetryServiceProvisioning().Post(ctx, nil)
}

// tenant is what rebind reads of the organization object.
type tenant struct {
	ID, Name    string
	SyncEnabled *bool
	LastSync    string
	Domains     []string
	// Federated lists the verified domains (lower case) whose users sign
	// in through a federation service.
	Federated []string
	// SoftMatchBlocked and HardMatchTakeoverBlocked are the tenant's
	// blockSoftMatchEnabled and blockCloudObjectTakeoverThroughHardMatchEnabled
	// features; nil when they could not be read (no permission).
	SoftMatchBlocked, HardMatchTakeoverBlocked *bool
	// FeaturesUnreadable says why the features could not be read ("" when
	// they were).
	FeaturesUnreadable string
}

// organization reads the tenant's organization object.
func (c *Client) organization(ctx context.Context) (tenant, error) {
	resp, err := c.graph.Organization().Get(ctx, nil)
	if err != nil {
		return tenant{}, wrap(err, "read the organization")
	}
	orgs := resp.GetValue()
	if len(orgs) != 1 {
		return tenant{}, fmt.Errorf("entra: read the organization: Graph returned %d organizations, want 1", len(orgs))
	}
	o := orgs[0]
	t := tenant{ID: deref(o.GetId()), Name: deref(o.GetDisplayName()), SyncEnabled: o.GetOnPremisesSyncEnabled()}
	if ls := o.GetOnPremisesLastSyncDateTime(); ls != nil {
		t.LastSync = ls.UTC().Format("2006-01-02T15:04:05Z")
	}
	for _, d := range o.GetVerifiedDomains() {
		t.Domains = append(t.Domains, deref(d.GetName()))
		// verifiedDomain.type is "Managed" or "Federated"
		// (learn.microsoft.com/graph/api/resources/verifieddomain).
		if strings.EqualFold(deref(d.GetTypeEscaped()), "Federated") {
			t.Federated = append(t.Federated, strings.ToLower(deref(d.GetName())))
		}
	}
	sync, err := c.graph.Directory().OnPremisesSynchronization().Get(ctx, nil)
	switch {
	case err != nil && (isStatus(err, 403) || isStatus(err, 404)):
		// GET /directory/onPremisesSynchronization supports delegated
		// sign-in only ("Application: Not supported.", and "Global
		// Administrator is the only role supported for this operation",
		// https://learn.microsoft.com/en-us/graph/api/onpremisesdirectorysynchronization-get):
		// an app-only token, or a user who is not a Global Administrator,
		// gets 403. The features are then unknown, and runbooks that rely
		// on them decide what to do about it.
		t.FeaturesUnreadable = "GET /directory/onPremisesSynchronization was refused (" + err.Error() + "); it supports delegated sign-in of a Global Administrator only"
	case err != nil:
		return tenant{}, wrap(err, "read the directory synchronisation features")
	default:
		if v := sync.GetValue(); len(v) > 0 && v[0].GetFeatures() != nil {
			f := v[0].GetFeatures()
			t.SoftMatchBlocked = f.GetBlockSoftMatchEnabled()
			t.HardMatchTakeoverBlocked = f.GetBlockCloudObjectTakeoverThroughHardMatchEnabled()
		}
	}
	return t, nil
}

// setDirSync turns the tenant's directory synchronisation on or off. The
// body is written by hand: the SDK's organization model adds an
// "@odata.type" that only this one property should accompany.
func (c *Client) setDirSync(ctx context.Context, orgID string, on bool) error {
	body, err := json.Marshal(map[string]bool{"onPremisesSyncEnabled": on})
	if err != nil {
		return err
	}
	_, err = c.rawJSON(ctx, abs.PATCH, "/organization/"+url.PathEscape(orgID), body)
	return err
}

// rawJSON sends a request built by hand through the SDK's adapter (so it
// gets the same authentication, retry and throttling handling) and returns
// the answer's bytes.
func (c *Client) rawJSON(ctx context.Context, method abs.HttpMethod, path string, body []byte) ([]byte, error) {
	ri := abs.NewRequestInformation()
	ri.Method = method
	ri.UrlTemplate = "{+baseurl}" + path
	ri.PathParameters = map[string]string{"baseurl": c.adapter.GetBaseUrl()}
	ri.Headers.TryAdd("Accept", "application/json")
	if body != nil {
		ri.SetStreamContentAndContentType(body, "application/json")
	}
	res, err := c.adapter.SendPrimitive(ctx, ri, "[]byte", errorMapping)
	if err != nil {
		return nil, err
	}
	b, _ := res.([]byte)
	return b, nil
}

// permanentf is steps.Permanent(fmt.Errorf(...)).
func permanentf(format string, args ...any) error {
	return steps.Permanent(fmt.Errorf(format, args...))
}
