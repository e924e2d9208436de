package entra

import (
	"context"
	"fmt"
	"math/big"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

// Permissions the step types declare; `rebind plan` lists their union.
const (
	permUserRead  = "Graph: User.Read.All"
	permUserWrite = "Graph: User.ReadWrite.All"
	// permManageIdentities is retryServiceProvisioning's least privileged
	// application permission, with the higher privileged ones its page
	// lists (https://learn.microsoft.com/graph/api/user-retryserviceprovisioning#permissions):
	// an app already granted User.ReadWrite.All needs nothing more.
	permManageIdentities = "Graph: User.ManageIdentities.All (or a higher privileged one: User.EnableDisableAccount.All, User.ReadWrite.All, Directory.ReadWrite.All)"
	permOrgRead          = "Graph: Organization.Read.All"
	permOrgWrite         = "Graph: Organization.ReadWrite.All"
)

func init() {
	steps.RegisterData(userData{})
	steps.RegisterData(usersData{})
	steps.RegisterData(tenantData{})
}

// selectorSchema adds the `upn` and `id` arguments every user step takes.
func selectorSchema(s steps.Schema) steps.Schema {
	s["upn"] = steps.Attribute{Type: cty.String, PII: true, Doc: "The user's userPrincipalName (give upn or id)."}
	s["id"] = steps.Attribute{Type: cty.String, Doc: "The user's object id (give upn or id)."}
	return s
}

// userData is the entra_user data type.
type userData struct{}

func (userData) Info() steps.Info {
	return steps.Info{
		Name: "entra_user",
		Doc: "Reads one Entra ID user by upn or id, from the recycle bin too when deleted = true (the most recently " +
			"deleted one when several share the UPN): its immutable ID, sync state, last sync, licenses, proxy " +
			"addresses, provisioning errors (sync conflicts as category, property, value, occurred; Exchange's XML " +
			"errors as code and text) and, for a deleted user, the days left to restore it.",
		Kind:   steps.KindData,
		Target: "entra",
		Schema: selectorSchema(steps.Schema{
			"deleted": {Type: cty.Bool, Doc: "Look in the recycle bin when no active user matches (default false)."},
		}),
		Reversibility: steps.Reversible,
		Permissions:   []string{permUserRead},
	}
}

func (userData) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	c, sel, err := userCall(call)
	if err != nil {
		return steps.Observation{}, err
	}
	deleted, _ := steps.Bool(call.Config, "deleted")
	u, err := c.findUser(ctx, sel, deleted)
	if err != nil {
		return steps.Observation{}, err
	}
	v, err := c.values(ctx, u)
	if err != nil {
		return steps.Observation{}, err
	}
	return steps.Observation{Object: userObject(u.ID), Value: v[0]}, nil
}

// usersData is the entra_users data type.
type usersData struct{}

func (usersData) Info() steps.Info {
	return steps.Info{
		Name: "entra_users",
		Doc: "Reads many Entra ID users, following every page: all of them, or those an OData `filter` selects " +
			"(e.g. \"onPremisesImmutableId eq 'Hrz/HqNKnU+lCNTYHx9Ycw=='\"), from the recycle bin when deleted = true. " +
			"The value has `users` (a list of what entra_user reads), `by_upn` (the same, keyed by lower-case UPN, for " +
			"for_each) and `count`.",
		Kind:   steps.KindData,
		Target: "entra",
		Schema: steps.Schema{
			"filter":  {Type: cty.String, PII: true, Doc: "An OData $filter; none reads every user."},
			"deleted": {Type: cty.Bool, Doc: "Read the recycle bin instead of the active users."},
			"max":     {Type: cty.Number, Doc: "Stop after this many users (default: no limit)."},
		},
		Reversibility: steps.Reversible,
		Permissions:   []string{permUserRead},
	}
}

func (usersData) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	c, err := client(call)
	if err != nil {
		return steps.Observation{}, err
	}
	filter, _ := steps.String(call.Config, "filter")
	deleted, _ := steps.Bool(call.Config, "deleted")
	limit := 0
	if v, ok := steps.Attr(call.Config, "max"); ok {
		n, acc := v.AsBigFloat().Int64()
		if acc != big.Exact || n < 1 {
			return steps.Observation{}, steps.Permanent(fmt.Errorf("entra: %s: max must be a positive whole number", call.Address))
		}
		limit = int(n)
	}
	list, err := c.listUsers(ctx, filter, deleted, limit)
	if err != nil {
		return steps.Observation{}, err
	}
	vals, err := c.values(ctx, list...)
	if err != nil {
		return steps.Observation{}, err
	}
	byUPN := map[string]cty.Value{}
	for i, u := range list {
		byUPN[lower(u.UPN)] = vals[i]
	}
	byUPNVal := cty.MapValEmpty(userType)
	if len(byUPN) > 0 {
		byUPNVal = cty.MapVal(byUPN)
	}
	object := "entra:users"
	if filter != "" {
		object += ":" + objectKey(filter)
	}
	return steps.Observation{
		Object: object,
		Value: cty.ObjectVal(map[string]cty.Value{
			"users":  listOf(userType, vals),
			"by_upn": byUPNVal,
			"count":  cty.NumberIntVal(int64(len(list))),
		}),
	}, nil
}

// tenantData is the entra_tenant data type.
type tenantData struct{}

func (tenantData) Info() steps.Info {
	return steps.Info{
		Name: "entra_tenant",
		Doc: "Reads the tenant's organization object: its id, name, verified domains (federated_domains: those of type Federated, lower case) and directory synchronisation " +
			"switch (sync_enabled: true on, false turned off, null never turned on; sync_state says the same in a word) " +
			"with the last sync time, and whether the tenant blocks soft match (soft_match_blocked) and cloud object " +
			"takeover through hard match (hard_match_takeover_blocked), null when they cannot be read; soft_match and " +
			"hard_match_takeover say the same as \"blocked\", \"allowed\" or \"unknown\" (features_unreadable then says why: " +
			"the API answers app-only tokens 403, it supports delegated Global Administrator sign-in only). Turning sync off " +
			"takes up to 72 hours to complete; until then users still read onPremisesSyncEnabled = true, which " +
			"entra_user_state can wait for.",
		Kind:          steps.KindData,
		Target:        "entra",
		Schema:        steps.Schema{},
		Reversibility: steps.Reversible,
		// GET /directory/onPremisesSynchronization has no application
		// permission: OnPremDirectorySynchronization.Read.All, delegated,
		// with the signed-in user a Global Administrator
		// (https://learn.microsoft.com/graph/api/onpremisesdirectorysynchronization-get#permissions).
		// App-only, the switches read as null and soft_match /
		// hard_match_takeover as "unknown".
		Permissions: []string{permOrgRead, "Graph: OnPremDirectorySynchronization.Read.All (delegated only: a Global Administrator signs in, device_code = true)"},
	}
}

// tenantValue renders the organization object.
func tenantValue(t tenant) cty.Value {
	state := "never"
	switch {
	case t.SyncEnabled != nil && *t.SyncEnabled:
		state = "on"
	case t.SyncEnabled != nil:
		state = "off"
	}
	last := cty.NullVal(cty.String)
	if t.LastSync != "" {
		last = cty.StringVal(t.LastSync)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"id":           cty.StringVal(t.ID),
		"display_name": cty.StringVal(t.Name),
		"domains":      steps.StringList(t.Domains),
		// A user whose UPN is in one of these cannot have its immutable
		// ID changed until the UPN moves to a managed domain.
		"federated_domains": steps.StringList(t.Federated),
		"sync_enabled":      ptrBool(t.SyncEnabled),
		"sync_state":        cty.StringVal(state),
		"last_sync":         last,
		// Null when the features could not be read.
		"soft_match_blocked":          ptrBool(t.SoftMatchBlocked),
		"hard_match_takeover_blocked": ptrBool(t.HardMatchTakeoverBlocked),
		"soft_match":                  cty.StringVal(feature(t.SoftMatchBlocked)),
		"hard_match_takeover":         cty.StringVal(feature(t.HardMatchTakeoverBlocked)),
		"features_unreadable":         cty.StringVal(t.FeaturesUnreadable),
	})
}

// feature says a blocking feature's state in a word: "blocked",
// "allowed", or "unknown" when it could not be read.
func feature(blocked *bool) string {
	switch {
	case blocked == nil:
		return "unknown"
	case *blocked:
		return "blocked"
	}
	return "allowed"
}

func (tenantData) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	c, err := client(call)
	if err != nil {
		return steps.Observation{}, err
	}
	t, err := c.organization(ctx)
	if err != nil {
		return steps.Observation{}, err
	}
	return steps.Observation{Object: "entra:tenant:" + t.ID, Value: tenantValue(t)}, nil
}
