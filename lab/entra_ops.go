package lab

import (
	"fmt"
	"strings"
)

// OnPremMasteredMessage is the message Graph answers when a property of a synced
// user is written in the cloud; the model's refusals carry it.
const OnPremMasteredMessage = "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration."

// CloudUserPatch is a partial update of a cloud user. Nil fields are left
// alone; ClearImmutableID writes an explicit null to onPremisesImmutableId.
type CloudUserPatch struct {
	DisplayName       *string
	UserPrincipalName *string
	AccountEnabled    *bool
	ImmutableID       *string
	ClearImmutableID  bool
	AssignedLicenses  *[]string
}

// PatchCloudUser applies p to the active user with this id. Writing a
// property of a user mastered on premises that Entra Connect synchronizes
// fails with ErrRefused, as Graph's 400 does ("Unable to update the
// specified properties for on-premises mastered Directory Sync objects");
// of the properties the lab models those are displayName,
// userPrincipalName, accountEnabled and onPremisesImmutableId, each in
// Connect's list of the attributes it synchronizes to Entra ID
// (https://learn.microsoft.com/en-us/entra/identity/hybrid/connect/reference-connect-sync-attributes-synchronized:
// displayName, userPrincipalName, accountEnabled, sourceAnchor; the
// properties the lab does not store are refused by patchUser,
// connectSynchronized). Licenses are assigned in the cloud and stay writable. Anything
// on a user in the recycle bin fails too (restore it first). A UPN held by
// another active user fails with ErrConflict.
func (t *Tenant) PatchCloudUser(id string, p CloudUserPatch) (CloudUser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if u := t.entra.byID[fold(id)]; u != nil && u.Deleted() {
		return CloudUser{}, fmt.Errorf("entra: update %s: %w: the user is deleted; restore it first", id, ErrNotFound)
	}
	u, err := t.entra.resolve(id)
	if err != nil {
		return CloudUser{}, err
	}
	writesAnchor := p.ImmutableID != nil || p.ClearImmutableID
	if u.Synced() && (writesAnchor || p.UserPrincipalName != nil || p.DisplayName != nil || p.AccountEnabled != nil) {
		return CloudUser{}, fmt.Errorf("entra: update %s: %w: %s", u.UserPrincipalName, ErrRefused, OnPremMasteredMessage)
	}
	if upn := u.UserPrincipalName; writesAnchor && t.cfg.federated(upn) && (p.UserPrincipalName == nil || t.cfg.federated(*p.UserPrincipalName)) {
		// A federated user's immutable ID is the identity its federation
		// service issues: Graph requires it when creating a user "if you
		// are using a federated domain for the user's userPrincipalName"
		// (learn.microsoft.com/graph/api/user-post-users), and moving a
		// user between a federated and a managed domain changes its
		// authentication type (learn.microsoft.com/powershell/module/
		// msonline/set-msoluserprincipalname). That the service refuses
		// to change it while the UPN is in a federated domain, and the
		// wording of its error, are not on a Microsoft page found; the
		// lab's message is its own.
		return CloudUser{}, fmt.Errorf("entra: update %s: %w: onPremisesImmutableId cannot be changed while the userPrincipalName is in a federated domain; move the user to a managed domain (such as %s) first",
			upn, ErrRefused, t.cfg.TenantDomain)
	}
	if p.ImmutableID != nil {
		if *p.ImmutableID == "" {
			return CloudUser{}, fmt.Errorf("entra: update %s: %w: onPremisesImmutableId cannot be empty; send null", u.UserPrincipalName, ErrInvalid)
		}
		if o := active(t.entra.imm[*p.ImmutableID], u); o != nil {
			return CloudUser{}, fmt.Errorf("entra: update %s: %w: onPremisesImmutableId %s is held by %s", u.UserPrincipalName, ErrConflict, *p.ImmutableID, o.UserPrincipalName)
		}
	}
	if p.UserPrincipalName != nil {
		if o := active(t.entra.upn[fold(*p.UserPrincipalName)], u); o != nil {
			return CloudUser{}, fmt.Errorf("entra: update %s: %w: userPrincipalName %s is held by %s", u.UserPrincipalName, ErrConflict, *p.UserPrincipalName, o.ID)
		}
	}
	t.entra.update(u, func(u *CloudUser) {
		if p.DisplayName != nil {
			u.DisplayName = *p.DisplayName
		}
		if p.UserPrincipalName != nil {
			u.UserPrincipalName = *p.UserPrincipalName
		}
		if p.AccountEnabled != nil {
			u.AccountEnabled = *p.AccountEnabled
		}
		if p.ClearImmutableID {
			u.OnPremisesImmutableID = ""
		}
		if p.ImmutableID != nil {
			u.OnPremisesImmutableID = *p.ImmutableID
		}
		if p.AssignedLicenses != nil {
			u.AssignedLicenses = append([]string(nil), (*p.AssignedLicenses)...)
		}
	})
	t.provision(u)
	return *u, nil
}

// DeleteCloudUser moves an active cloud-managed user to the recycle bin. A
// user mastered on premises is deleted by deleting its AD object.
func (t *Tenant) DeleteCloudUser(id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	u, err := t.entra.resolve(id)
	if err != nil {
		return err
	}
	if u.Synced() {
		return fmt.Errorf("entra: delete %s: %w: %s", u.UserPrincipalName, ErrRefused, OnPremMasteredMessage)
	}
	t.softDelete(u)
	return nil
}

// softDelete moves u to the recycle bin; its licenses stay on it, its
// mailbox is soft-deleted. With Config.DeletedUPNPrefix its UPN takes its
// object id as a prefix (deleted_upn.go).
func (t *Tenant) softDelete(u *CloudUser) {
	t.entra.update(u, func(u *CloudUser) {
		u.DeletedDateTime = timePtr(t.now)
		u.UserPrincipalName = t.cfg.deletedUPN(u)
	})
	t.provision(u)
}

// RestoreOptions are the optional parameters of a restore from the recycle
// bin.
type RestoreOptions struct {
	// AutoReconcileProxyConflict drops proxy addresses another active
	// object holds instead of failing.
	AutoReconcileProxyConflict bool
	// NewUserPrincipalName restores the user under another UPN.
	NewUserPrincipalName string
}

// RestoreCloudUser brings a user back from the recycle bin with its
// licenses, which brings its mailbox back. A user that was synced comes back
// cloud-managed (onPremisesSyncEnabled false) and keeps its immutable ID. It
// fails with ErrConflict when an active user holds its UPN or, unless
// AutoReconcileProxyConflict, one of its proxy addresses. The user gets its
// original UPN back: a prefix of its own object id without dashes, which
// tenants that rename deleted users add, is taken off (deleted_upn.go);
// NewUserPrincipalName wins over both.
func (t *Tenant) RestoreCloudUser(id string, o RestoreOptions) (CloudUser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u, err := t.entra.deleted(id)
	if err != nil {
		return CloudUser{}, fmt.Errorf("entra: restore: %w", err)
	}
	upn := originalUPN(u)
	if o.NewUserPrincipalName != "" {
		upn = o.NewUserPrincipalName
	}
	if h := active(t.entra.upn[fold(upn)], u); h != nil {
		return CloudUser{}, fmt.Errorf("entra: restore %s: %w: userPrincipalName %s is held by %s", u.ID, ErrConflict, upn, h.ID)
	}
	var keep []string
	for _, p := range u.ProxyAddresses {
		if h := active(t.entra.proxy[proxyKey(p)], u); h != nil {
			if !o.AutoReconcileProxyConflict {
				return CloudUser{}, fmt.Errorf("entra: restore %s: %w: proxy address %s is held by %s", u.ID, ErrConflict, p, h.ID)
			}
			continue
		}
		keep = append(keep, p)
	}
	t.entra.update(u, func(u *CloudUser) {
		u.DeletedDateTime = nil
		u.UserPrincipalName = upn
		u.ProxyAddresses = keep
		if u.OnPremisesSyncEnabled != nil {
			u.OnPremisesSyncEnabled = boolPtr(false)
		}
	})
	t.provision(u)
	return *u, nil
}

// PurgeCloudUser deletes a user in the recycle bin for good.
func (t *Tenant) PurgeCloudUser(id string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	u, err := t.entra.deleted(id)
	if err != nil {
		return fmt.Errorf("entra: permanent delete: %w", err)
	}
	t.entra.purge(u)
	return nil
}

// Organization returns a copy of the tenant's organization object.
func (t *Tenant) Organization() Organization {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.org
}

// DirSyncPendingDisableMessage is the lab's answer to turning directory
// synchronisation on while turning it off has not completed.
const DirSyncPendingDisableMessage = "Directory Sync is currently in a pending disable state for this directory. " +
	"Please wait until Directory Sync has been fully disabled before trying again."

// ErrDirSyncPendingDisable refuses turning directory synchronisation on
// while turning it off has not completed (SetDirSyncEnabled).
var ErrDirSyncPendingDisable = fmt.Errorf("entra: turn directory sync on: %w: %s", ErrRefused, DirSyncPendingDisableMessage)

// SetDirSyncEnabled turns the tenant's directory synchronisation on or off.
// Turning it off takes Config.SyncDisableDelay of virtual time: until then
// users stay mastered on premises and it cannot be turned on again
// (ErrRefused); when it completes, every synced user is cloud-managed.
// Turning it on makes the next sync cycle a full (Initial) one. Setting the
// current value again changes nothing.
func (t *Tenant) SetDirSyncEnabled(on bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := t.org.OnPremisesSyncEnabled != nil && *t.org.OnPremisesSyncEnabled
	switch {
	case on == cur:
		return nil
	case !on:
		t.org.OnPremisesSyncEnabled = boolPtr(false)
		t.org.SyncDisableCompletes = timePtr(t.now.Add(t.cfg.SyncDisableDelay.D()))
	case t.org.SyncDisableCompletes != nil:
		// "Once disabled, the process cannot be canceled and must complete
		// before you can take further action, including re-enabling
		// DirSync" (https://learn.microsoft.com/powershell/module/microsoft.entra.directorymanagement/set-entradirsyncenabled).
		// Graph documents no error text for it; the words are those Connect
		// shows in that state, as quoted in
		// https://github.com/MicrosoftLearning/MS-100T00-Microsoft-365-Identity-and-Services/issues/18.
		return ErrDirSyncPendingDisable
	default:
		t.org.OnPremisesSyncEnabled = boolPtr(true)
		t.sync.FullPending = true
	}
	return nil
}

// finishSyncDisable completes turning directory sync off once its delay has
// passed: synced users become cloud-managed and the sync engine forgets the
// objects it provisioned.
func (t *Tenant) finishSyncDisable() {
	c := t.org.SyncDisableCompletes
	if c == nil || t.now.Before(*c) {
		return
	}
	t.org.SyncDisableCompletes = nil
	for _, u := range t.entra.byID {
		if u.Synced() {
			u.OnPremisesSyncEnabled = boolPtr(false)
		}
	}
	t.sync.Provisioned = map[string]bool{}
}

// dirSyncOn reports whether sync cycles may export.
func (t *Tenant) dirSyncOn() bool {
	return t.org.OnPremisesSyncEnabled != nil && *t.org.OnPremisesSyncEnabled
}

// quarantineUPN returns the UPN duplicate attribute resiliency gives a user
// whose UPN is taken: prefix+NNNN@tenant.onmicrosoft.com.
func (t *Tenant) quarantineUPN(upn string) string {
	prefix := upn
	if i := strings.IndexByte(upn, '@'); i >= 0 {
		prefix = upn[:i]
	}
	for {
		n := t.newGUID()
		cand := fmt.Sprintf("%s+%04d@%s", prefix, (int(n[0])<<8|int(n[1]))%10000, t.cfg.TenantDomain)
		if len(t.entra.upn[fold(cand)]) == 0 {
			return cand
		}
	}
}
