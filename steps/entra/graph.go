package entra

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/directory"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/rebind-dev/rebind/steps"
)

// userSelect is the $select of every user read: Graph returns the
// on-premises properties only when they are selected, and a selected read
// costs one resource unit instead of two.
var userSelect = []string{
	"id", "userPrincipalName", "mail", "proxyAddresses", "onPremisesImmutableId", "onPremisesSyncEnabled",
	"onPremisesLastSyncDateTime", "assignedLicenses", "onPremisesProvisioningErrors", "serviceProvisioningErrors",
	"deletedDateTime",
}

// errorMapping makes the SDK decode Graph's error bodies as OData errors.
var errorMapping = abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// user is what rebind reads of a cloud user, decoded from the SDK's model.
type user struct {
	ID          string
	UPN         string
	Mail        string
	Proxy       []string
	ImmutableID *string
	SyncEnabled *bool
	LastSync    *time.Time
	Licenses    []string
	ProvErrors  []provisioningError
	SvcErrors   []serviceError
	Deleted     *time.Time
}

// provisioningError is an onPremisesProvisioningError: a conflict Entra
// Connect hit while writing the user.
type provisioningError struct {
	Category, Property, Value string
	Occurred                  *time.Time
}

// serviceError is a serviceProvisioningXmlError (from Exchange Online),
// its XML decoded.
type serviceError struct {
	Service  string
	Created  *time.Time
	Resolved bool
	Code     string
	Text     string
	// Detail is the error record as Graph returned it.
	Detail string
}

// decodeUser reads the SDK's user model.
func decodeUser(m models.Userable) user {
	u := user{
		ID: deref(m.GetId()), UPN: deref(m.GetUserPrincipalName()), Mail: deref(m.GetMail()),
		Proxy: m.GetProxyAddresses(), ImmutableID: m.GetOnPremisesImmutableId(), SyncEnabled: m.GetOnPremisesSyncEnabled(),
		LastSync: m.GetOnPremisesLastSyncDateTime(), Deleted: m.GetDeletedDateTime(),
	}
	if u.ImmutableID != nil && *u.ImmutableID == "" {
		u.ImmutableID = nil
	}
	for _, l := range m.GetAssignedLicenses() {
		if id := l.GetSkuId(); id != nil {
			u.Licenses = append(u.Licenses, id.String())
		}
	}
	sort.Strings(u.Licenses)
	for _, e := range m.GetOnPremisesProvisioningErrors() {
		u.ProvErrors = append(u.ProvErrors, provisioningError{
			Category: deref(e.GetCategory()), Property: deref(e.GetPropertyCausingError()),
			Value: deref(e.GetValue()), Occurred: e.GetOccurredDateTime(),
		})
	}
	for _, e := range m.GetServiceProvisioningErrors() {
		s := serviceError{Service: deref(e.GetServiceInstance()), Created: e.GetCreatedDateTime(), Resolved: deref(e.GetIsResolved())}
		if x, ok := e.(models.ServiceProvisioningXmlErrorable); ok {
			s.Detail = deref(x.GetErrorDetail())
			s.Code, s.Text = serviceErrorText(s.Detail)
		}
		u.SvcErrors = append(u.SvcErrors, s)
	}
	return u
}

// selector names one user: by object id or by UPN.
type selector struct {
	ID, UPN string
}

func (s selector) String() string {
	if s.ID != "" {
		return s.ID
	}
	return s.UPN
}

// selectorFrom reads the call's `id` and `upn`; exactly one must be given.
func selectorFrom(call steps.Call) (selector, error) {
	var s selector
	s.ID, _ = steps.String(call.Config, "id")
	s.UPN, _ = steps.String(call.Config, "upn")
	switch {
	case s.ID == "" && s.UPN == "":
		return s, steps.Permanent(fmt.Errorf("entra: %s: give upn or id", call.Address))
	case s.ID != "" && s.UPN != "":
		return s, steps.Permanent(fmt.Errorf("entra: %s: give upn or id, not both", call.Address))
	}
	return s, nil
}

// activeUser reads the active user s names; the error wraps
// steps.ErrNotFound when there is none.
func (c *Client) activeUser(ctx context.Context, s selector) (user, error) {
	m, err := c.graph.Users().ByUserId(s.String()).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: userSelect},
	})
	if err != nil {
		return user{}, wrap(err, "read user "+s.String())
	}
	return decodeUser(m), nil
}

// deletedUsers returns the users in the recycle bin that s names, the most
// recently deleted first. Graph keeps a deleted user's UPN as it was, or
// prefixes it with the object id without dashes; both are found.
func (c *Client) deletedUsers(ctx context.Context, s selector) ([]user, error) {
	if s.ID != "" {
		obj, err := c.graph.Directory().DeletedItems().ByDirectoryObjectId(s.ID).Get(ctx, &directory.DeletedItemsDirectoryObjectItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &directory.DeletedItemsDirectoryObjectItemRequestBuilderGetQueryParameters{Select: userSelect},
		})
		if isStatus(err, 404) {
			return nil, nil
		}
		if err != nil {
			return nil, wrap(err, "read deleted user "+s.ID)
		}
		m, ok := obj.(models.Userable)
		if !ok {
			return nil, steps.Permanent(fmt.Errorf("entra: deleted object %s is not a user", s.ID))
		}
		return []user{decodeUser(m)}, nil
	}
	filter := fmt.Sprintf("userPrincipalName eq '%s'", odataQuote(s.UPN))
	out, err := c.listDeleted(ctx, filter, nil)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		// A real tenant renames a deleted user to <id without dashes><upn>:
		// find it with an advanced query. A directory that cannot answer
		// one (400) has no such users.
		h := abs.NewRequestHeaders()
		h.Add("ConsistencyLevel", "eventual")
		out, err = c.listDeleted(ctx, fmt.Sprintf("endswith(userPrincipalName,'%s')", odataQuote(s.UPN)), h)
		if isStatus(err, 400) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		out = keepMangled(out, s.UPN)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Deleted, out[j].Deleted
		return a != nil && (b == nil || a.After(*b))
	})
	return out, nil
}

// keepMangled keeps the deleted users whose UPN is upn, possibly prefixed
// with their object id without dashes.
func keepMangled(l []user, upn string) []user {
	var out []user
	for _, u := range l {
		prefix := strings.ReplaceAll(u.ID, "-", "")
		if strings.EqualFold(u.UPN, upn) || strings.EqualFold(u.UPN, prefix+upn) {
			out = append(out, u)
		}
	}
	return out
}

// originalUPN is the UPN u had before it was deleted, the one a restore
// gives back: its UPN without the prefix of its own object id without
// dashes that real tenants are reported to add in the recycle bin (the CLI
// for Microsoft 365's recyclebinitem list sample,
// msgraph-sdk-powershell#2256; no Microsoft page documents it), or its UPN
// as it is. Graph's restore page
// (learn.microsoft.com/graph/api/directory-deleteditems-restore) shows a
// restored user under its original UPN.
func originalUPN(u user) string {
	prefix := strings.ReplaceAll(u.ID, "-", "")
	if u.Deleted == nil || prefix == "" || len(u.UPN) <= len(prefix) || !strings.EqualFold(u.UPN[:len(prefix)], prefix) {
		return u.UPN
	}
	if rest := u.UPN[len(prefix):]; strings.IndexByte(rest, '@') > 0 {
		return rest
	}
	return u.UPN
}

// listDeleted pages through the recycle bin's users matching filter.
func (c *Client) listDeleted(ctx context.Context, filter string, headers *abs.RequestHeaders) ([]user, error) {
	top := int32(999)
	cfg := &directory.DeletedItemsGraphUserRequestBuilderGetRequestConfiguration{
		Headers:         headers,
		QueryParameters: &directory.DeletedItemsGraphUserRequestBuilderGetQueryParameters{Select: userSelect, Top: &top},
	}
	if filter != "" {
		cfg.QueryParameters.Filter = &filter
	}
	if headers != nil {
		count := true
		cfg.QueryParameters.Count = &count
	}
	resp, err := c.graph.Directory().DeletedItems().GraphUser().Get(ctx, cfg)
	return collectUsers(ctx, resp, err, "list deleted users", 0, func(ctx context.Context, link string) (models.UserCollectionResponseable, error) {
		return c.graph.Directory().DeletedItems().GraphUser().WithUrl(link).Get(ctx, nil)
	})
}

// collectUsers decodes the users of a listing's first page (resp, or its
// error) and of each page its @odata.nextLink names, read with next, until
// a page names none (https://learn.microsoft.com/graph/paging), or until
// it has max users when max > 0. what words an error.
func collectUsers(ctx context.Context, resp models.UserCollectionResponseable, err error, what string, max int,
	next func(ctx context.Context, link string) (models.UserCollectionResponseable, error)) ([]user, error) {
	var out []user
	for {
		if err != nil {
			return nil, wrap(err, what)
		}
		for _, m := range resp.GetValue() {
			out = append(out, decodeUser(m))
			if max > 0 && len(out) == max {
				return out, nil
			}
		}
		link := resp.GetOdataNextLink()
		if link == nil || *link == "" {
			return out, nil
		}
		resp, err = next(ctx, *link)
	}
}

// findUser reads the active user s names or, when there is none and
// allowDeleted is set, the most recently deleted one in the recycle bin.
// The error wraps steps.ErrNotFound when neither exists.
func (c *Client) findUser(ctx context.Context, s selector, allowDeleted bool) (user, error) {
	u, err := c.activeUser(ctx, s)
	if err == nil || !allowDeleted || !isNotFound(err) {
		return u, err
	}
	del, derr := c.deletedUsers(ctx, s)
	if derr != nil {
		return user{}, derr
	}
	if len(del) == 0 {
		return user{}, fmt.Errorf("entra: user %s: %w: neither active nor in the recycle bin", s, steps.ErrNotFound)
	}
	return del[0], nil
}

// listUsers pages through the active users (or the recycle bin's) that
// filter selects, at most max of them when max > 0.
func (c *Client) listUsers(ctx context.Context, filter string, deleted bool, max int) ([]user, error) {
	if deleted {
		out, err := c.listDeleted(ctx, filter, nil)
		if max > 0 && len(out) > max {
			out = out[:max]
		}
		return out, err
	}
	top := int32(999)
	q := &users.UsersRequestBuilderGetQueryParameters{Select: userSelect, Top: &top}
	if filter != "" {
		q.Filter = &filter
	}
	resp, err := c.graph.Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{QueryParameters: q})
	return collectUsers(ctx, resp, err, "list users", max, func(ctx context.Context, link string) (models.UserCollectionResponseable, error) {
		return c.graph.Users().WithUrl(link).Get(ctx, nil)
	})
}

// odataQuote escapes a string literal for $filter.
func odataQuote(s string) string { return strings.ReplaceAll(s, "'", "''") }

// isNotFound reports whether err wraps steps.ErrNotFound.
func isNotFound(err error) bool { return err != nil && errors.Is(err, steps.ErrNotFound) }
