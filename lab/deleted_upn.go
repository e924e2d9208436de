package lab

import "strings"

// A deleted user's userPrincipalName, two ways.
//
// What is documented: Graph's restore page
// (https://learn.microsoft.com/graph/api/directory-deleteditems-restore)
// takes an optional newUserPrincipalName and autoReconcileProxyConflict,
// and its beta example answers a restored user with its original UPN
// (sampleuser@contoso.com); Restore-MsolUser's -NewUserPrincipalName is
// for when "the original UserPrincipalName of the user is in use by
// another active user" (learn.microsoft.com/powershell/module/msonline/
// restore-msoluser). So a restored user gets its original UPN back unless
// it is given another one, and only active users hold a UPN against a
// restore.
//
// What is not documented: whether a user in the recycle bin keeps its UPN
// or shows it prefixed with its object id without dashes. No Microsoft page
// found says either (searched: directory-deleteditems-list/get/restore,
// user-update, entra-docs users-restore). Sources outside Microsoft show
// the prefix in real tenants: the CLI for Microsoft 365's
// `entra user recyclebinitem list` response sample
// ("userPrincipalName": "7e06b56615f340138bf879874d52e68ajohn@contoso.com"
// for id 7e06b566-15f3-4013-8bf8-79874d52e68a,
// https://pnp.github.io/cli-microsoft365/cmd/entra/user/user-recyclebinitem-list/),
// and a user's report that a "User object deleted by Azure AD Connect adds
// additional data for UPN as prefix"
// (https://github.com/microsoftgraph/msgraph-sdk-powershell/issues/2256).
//
// The lab therefore models both: by default a deleted user keeps its UPN;
// with Config.DeletedUPNPrefix it shows <id without dashes><UPN> in
// deletedItems (and is found by that value in $filter), as those sources
// show. Either way a restore gives back the original UPN, stripping the
// prefix when it is the user's own id without dashes (so a twin loaded from
// a snapshot of a tenant that prefixes restores it right), and sync finds
// a deleted user under its original UPN as before: nothing documents that
// Connect's matching depends on the form, so the lab's sync does not.

// upnIDPrefix is the prefix a deleted user's UPN carries in a tenant that
// renames it: its object id, lower case, without dashes.
func upnIDPrefix(id string) string { return strings.ReplaceAll(fold(id), "-", "") }

// originalUPN returns u's UPN without its own-id prefix, or the UPN as it
// is when it carries none.
func originalUPN(u *CloudUser) string {
	p := upnIDPrefix(u.ID)
	upn := u.UserPrincipalName
	if p == "" || len(upn) <= len(p) || !strings.EqualFold(upn[:len(p)], p) {
		return upn
	}
	if rest := upn[len(p):]; strings.IndexByte(rest, '@') > 0 {
		return rest
	}
	return upn
}

// prefixedUPN returns u's UPN as a tenant that renames deleted users shows
// it: <id without dashes><original UPN>.
func prefixedUPN(u *CloudUser) string {
	if u.UserPrincipalName == "" {
		return ""
	}
	return upnIDPrefix(u.ID) + originalUPN(u)
}

// deletedUPN returns the UPN u shows in the recycle bin under the tenant's
// setting.
func (c Config) deletedUPN(u *CloudUser) string {
	if c.DeletedUPNPrefix {
		return prefixedUPN(u)
	}
	return originalUPN(u)
}

// SetDeletedUPNPrefix sets Config.DeletedUPNPrefix and renames the users
// already in the recycle bin to the form it gives, so a scenario loaded
// without it can be rehearsed with it.
func (t *Tenant) SetDeletedUPNPrefix(on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cfg.DeletedUPNPrefix = on
	for _, id := range t.entra.ids() {
		u := t.entra.byID[id]
		if !u.Deleted() {
			continue
		}
		if upn := t.cfg.deletedUPN(u); upn != u.UserPrincipalName {
			t.entra.update(u, func(u *CloudUser) { u.UserPrincipalName = upn })
		}
	}
}
