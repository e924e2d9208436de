package entra

import (
	"math"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/steps"
)

// provisioningErrorType is one decoded onPremisesProvisioningError.
var provisioningErrorType = cty.Object(map[string]cty.Type{
	"category": cty.String,
	"property": cty.String,
	"value":    cty.String,
	"occurred": cty.String,
})

// serviceErrorType is one decoded serviceProvisioningXmlError.
var serviceErrorType = cty.Object(map[string]cty.Type{
	"service":  cty.String,
	"created":  cty.String,
	"resolved": cty.Bool,
	"code":     cty.String,
	"text":     cty.String,
})

// userType is the value of an entra_user data block and of each user of
// entra_users.
var userType = cty.Object(map[string]cty.Type{
	"id":                          cty.String,
	"upn":                         cty.String,
	"original_upn":                cty.String,
	"mail":                        cty.String,
	"proxy_addresses":             cty.List(cty.String),
	"immutable_id":                cty.String,
	"sync_enabled":                cty.Bool,
	"last_sync":                   cty.String,
	"licenses":                    cty.List(cty.String),
	"provisioning_errors":         cty.List(provisioningErrorType),
	"service_provisioning_errors": cty.List(serviceErrorType),
	"deleted":                     cty.Bool,
	"deleted_at":                  cty.String,
	"deleted_days_left":           cty.Number,
})

// userValue renders u as of now (the tenant's time, which decides how many
// days a deleted user has left). deleted_days_left is 30 for an active user
// (a deletion now would keep it that long), so a precondition such as
// `deleted_days_left > 0` holds before and after a restore.
func userValue(u user, now time.Time) cty.Value {
	provs := make([]cty.Value, len(u.ProvErrors))
	for i, e := range u.ProvErrors {
		provs[i] = cty.ObjectVal(map[string]cty.Value{
			"category": cty.StringVal(e.Category), "property": cty.StringVal(e.Property),
			"value": cty.StringVal(e.Value), "occurred": timeVal(e.Occurred),
		})
	}
	svcs := make([]cty.Value, len(u.SvcErrors))
	for i, e := range u.SvcErrors {
		svcs[i] = cty.ObjectVal(map[string]cty.Value{
			"service": cty.StringVal(e.Service), "created": timeVal(e.Created), "resolved": cty.BoolVal(e.Resolved),
			"code": cty.StringVal(e.Code), "text": cty.StringVal(e.Text),
		})
	}
	days := retention.Hours() / 24
	if u.Deleted != nil {
		left := u.Deleted.Add(retention).Sub(now).Hours() / 24
		days = math.Max(0, math.Floor(left))
	}
	return cty.ObjectVal(map[string]cty.Value{
		"id":                          cty.StringVal(u.ID),
		"upn":                         cty.StringVal(u.UPN),
		"original_upn":                cty.StringVal(originalUPN(u)),
		"mail":                        optString(u.Mail),
		"proxy_addresses":             steps.StringList(u.Proxy),
		"immutable_id":                ptrString(u.ImmutableID),
		"sync_enabled":                ptrBool(u.SyncEnabled),
		"last_sync":                   timeVal(u.LastSync),
		"licenses":                    steps.StringList(u.Licenses),
		"provisioning_errors":         listOf(provisioningErrorType, provs),
		"service_provisioning_errors": listOf(serviceErrorType, svcs),
		"deleted":                     cty.BoolVal(u.Deleted != nil),
		"deleted_at":                  timeVal(u.Deleted),
		"deleted_days_left":           cty.NumberIntVal(int64(days)),
	})
}

// listOf and optString are steps.ListOf and steps.OptString (Graph sends
// an unset string as "" or not at all).
var (
	listOf    = steps.ListOf
	optString = steps.OptString
)

func ptrString(p *string) cty.Value {
	if p == nil {
		return cty.NullVal(cty.String)
	}
	return cty.StringVal(*p)
}

func ptrBool(p *bool) cty.Value {
	if p == nil {
		return cty.NullVal(cty.Bool)
	}
	return cty.BoolVal(*p)
}

// timeVal renders a time as RFC 3339 in UTC, null when unset.
func timeVal(t *time.Time) cty.Value {
	if t == nil {
		return cty.NullVal(cty.String)
	}
	return cty.StringVal(t.UTC().Format(time.RFC3339))
}

// objectKey names an object by a name that may be personal data, without
// it (anchor.ObjectKey).
var objectKey = anchor.ObjectKey

// userObject is the Observation.Object of a cloud user: its object id,
// which a restore keeps, so that two runs working the same user by UPN and
// by id lock the same thing.
func userObject(id string) string { return "entra:user:" + id }

// lower folds a UPN for use as a map key.
func lower(s string) string { return strings.ToLower(s) }
