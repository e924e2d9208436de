package lab

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/rebind-dev/rebind/anchor"
)

// SyncPolicy is the kind of Entra Connect sync cycle, as in
// Start-ADSyncSyncCycle -PolicyType.
type SyncPolicy string

// The two sync cycle policies.
const (
	// Delta processes the AD objects changed since the last cycle and those
	// whose export failed.
	Delta SyncPolicy = "Delta"
	// Initial (full import, full sync, export) processes every object in
	// scope; it is what matching needs after cloud objects changed.
	Initial SyncPolicy = "Initial"
)

// ParseSyncPolicy reads "Delta" or "Initial" in any case.
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	switch {
	case strings.EqualFold(s, string(Delta)):
		return Delta, nil
	case strings.EqualFold(s, string(Initial)):
		return Initial, nil
	}
	return "", fmt.Errorf("%w: sync policy %q (want Delta or Initial)", ErrInvalid, s)
}

// Sync error codes as Entra Connect reports them.
const (
	CodeAttributeValueMustBeUnique = "AttributeValueMustBeUnique"
	CodeInvalidSoftMatch           = "InvalidSoftMatch"
	// CodeInvalidHardMatch is the export error of a hard match refused by
	// the blockCloudObjectTakeoverThroughHardMatchEnabled feature
	// (learn.microsoft.com/entra/identity/hybrid/connect/tshoot-connect-sync-errors#invalidhardmatch).
	CodeInvalidHardMatch = "InvalidHardMatch"
)

// Sync run statuses.
const (
	StatusSuccess                   = "success"
	StatusExportErrors              = "completed-export-errors"
	StatusDeletionThresholdExceeded = "stopped-deletion-threshold-exceeded"
)

// ErrDeletionThreshold is returned by a cycle that stopped because its
// export would delete more objects than the threshold allows.
var ErrDeletionThreshold = errors.New("lab: sync stopped: deletion threshold exceeded")

// ErrSyncOff is returned by a cycle run while the tenant's directory
// synchronisation is off or turning off.
var ErrSyncOff = errors.New("lab: directory synchronization is turned off for the tenant")

// SyncError is one object's export error in a sync cycle.
type SyncError struct {
	Code string `json:"code"`
	// DN and ObjectGUID name the AD object whose export failed.
	DN         string `json:"dn"`
	ObjectGUID string `json:"objectGUID"`
	// Attribute and Value are the conflicting property and its value.
	Attribute string `json:"attribute,omitempty"`
	Value     string `json:"value,omitempty"`
	// CloudUserID is the cloud user holding the value (or the one written
	// with a quarantined value).
	CloudUserID string `json:"cloudUserId,omitempty"`
	Detail      string `json:"detail"`
}

// SyncResult reports one sync cycle.
type SyncResult struct {
	// ID identifies the cycle: a Cloud Sync job reports it as its last
	// execution's activityIdentifier.
	ID       string      `json:"id,omitempty"`
	Policy   SyncPolicy  `json:"policy"`
	Started  time.Time   `json:"started"`
	Status   string      `json:"status"`
	Added    int         `json:"added"`
	Updated  int         `json:"updated"`
	Deleted  int         `json:"deleted"`
	Restored int         `json:"restored"`
	Errors   []SyncError `json:"errors,omitempty"`
}

// syncState is what the Connect server remembers between cycles.
type syncState struct {
	// Watermark is the AD USN the last cycle read up to.
	Watermark int64
	// Provisioned holds the source anchors this server has exported: a
	// cloud user holding one of them whose AD object is gone is deleted.
	// Cloud users synced by another server (a rebuilt forest, an old
	// install) are not in it and are left alone.
	Provisioned map[string]bool
	// Pending holds AD objects whose export failed; delta cycles retry them.
	Pending map[anchor.GUID]bool
	// FullPending makes the next cycle Initial (sync was turned on).
	FullPending bool
	// Last is the last cycle's report.
	Last *SyncResult
	// Runs counts the cycles that ran (those refused with sync off
	// excluded), to name each one.
	Runs int64
	// LastRun is when the last cycle started; the scheduler runs the next
	// one Config.SyncInterval later.
	LastRun time.Time
	// SchedulerOff holds the scheduler's cycles (Set-ADSyncScheduler
	// -SyncCycleEnabled $false).
	SchedulerOff bool
	// LastSweep is when the hourly task last gave quarantined values back;
	// not saved, so the first clock move after a load runs it.
	LastSweep time.Time
}

func (s *syncState) init() {
	s.Provisioned = map[string]bool{}
	s.Pending = map[anchor.GUID]bool{}
}

// LastSync returns the report of the last sync cycle, or false when none
// ran.
func (t *Tenant) LastSync() (SyncResult, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sync.Last == nil {
		return SyncResult{}, false
	}
	return *t.sync.Last, true
}

// inScope reports whether the sync scope covers the live AD user u.
func (t *Tenant) inScope(u *ADUser) bool {
	if u.IsDeleted {
		return false
	}
	if len(t.cfg.SyncScope) == 0 {
		return true
	}
	dn := fold(u.DN)
	for _, s := range t.cfg.SyncScope {
		if strings.HasSuffix(dn, ","+fold(s)) {
			return true
		}
	}
	return false
}

// SyncCycle runs one Entra Connect sync cycle: AD objects are hard matched
// on their anchor, else soft matched on primary SMTP address then UPN to a
// cloud user without an immutable ID, else provisioned; values another cloud
// user holds are quarantined; cloud users this server provisioned whose AD
// object is gone are deleted, unless that would pass the deletion threshold,
// in which case nothing is exported at all. A pending switch-on makes the
// cycle Initial whatever policy says.
func (t *Tenant) SyncCycle(policy SyncPolicy) (SyncResult, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.syncCycle(policy)
}

// syncCycle is SyncCycle under the lock.
func (t *Tenant) syncCycle(policy SyncPolicy) (SyncResult, error) {
	return t.syncCycleAs(policy, connectEngine)
}

// syncEngine names the engine that runs a cycle, for the one rule the two
// engines' pages word differently: when deletions stop an export.
type syncEngine int

const (
	// connectEngine is Entra Connect Sync: "configured to not allow an
	// export with more than 500 deletes"
	// (how-to-connect-sync-feature-prevent-accidental-deletes), so the
	// threshold itself goes through.
	connectEngine syncEngine = iota
	// cloudSyncEngine is Entra Cloud Sync: "you set the threshold for the
	// number of objects that, if deleted, synchronization should stop. So
	// if this number is reached, the synchronization stops"
	// (cloud-sync/how-to-accidental-deletes). The same page's summary says
	// "the # of objects (threshold) beyond which the configuration takes
	// effect"; the lab follows the sentence that states the rule.
	cloudSyncEngine
)

// stops reports whether n deletions stop an export at threshold th (< 0:
// no threshold).
func (e syncEngine) stops(n, th int) bool {
	if th < 0 || n == 0 {
		return false
	}
	if e == cloudSyncEngine {
		return n >= th
	}
	return n > th
}

// syncCycleAs runs a cycle as engine e runs it; the caller holds the lock.
func (t *Tenant) syncCycleAs(policy SyncPolicy, e syncEngine) (SyncResult, error) {
	t.sync.LastRun = t.now
	if policy != Delta && policy != Initial {
		return SyncResult{}, fmt.Errorf("sync: %w: policy %q", ErrInvalid, policy)
	}
	if !t.dirSyncOn() {
		return SyncResult{}, fmt.Errorf("sync: %s cycle: %w", policy, ErrSyncOff)
	}
	if t.sync.FullPending {
		policy = Initial
	}
	t.sync.Runs++
	res := SyncResult{ID: t.cycleID(t.sync.Runs), Policy: policy, Started: t.now, Status: StatusSuccess}
	live := map[string]*ADUser{}
	var work []*ADUser
	for _, u := range t.ad.byGUID {
		if !t.inScope(u) {
			continue
		}
		live[u.Anchor()] = u
		if policy == Initial || u.USNChanged > t.sync.Watermark || t.sync.Pending[u.ObjectGUID] {
			work = append(work, u)
		}
	}
	var dels []*CloudUser
	for anc := range t.sync.Provisioned {
		if live[anc] != nil {
			continue
		}
		for _, c := range t.entra.imm[anc] {
			if !c.Deleted() {
				dels = append(dels, c)
			}
		}
	}
	if th := t.cfg.DeletionThreshold; e.stops(len(dels), th) {
		res.Status = StatusDeletionThresholdExceeded
		t.sync.Last = &res
		return res, fmt.Errorf("sync: %w: %d deletions, threshold %d; nothing was exported", ErrDeletionThreshold, len(dels), th)
	}
	sort.Slice(work, func(i, j int) bool { return work[i].DN < work[j].DN })
	sort.Slice(dels, func(i, j int) bool { return dels[i].ID < dels[j].ID })
	t.sync.FullPending = false
	pending := map[anchor.GUID]bool{}
	for _, u := range work {
		if !t.syncObject(u, &res) {
			pending[u.ObjectGUID] = true
		}
	}
	for _, c := range dels {
		t.softDelete(c)
		res.Deleted++
	}
	t.sync.Pending = pending
	t.sync.Watermark = t.ad.usn
	if len(res.Errors) > 0 {
		res.Status = StatusExportErrors
	}
	t.org.OnPremisesLastSyncDateTime = timePtr(t.now)
	t.sync.Last = &res
	return res, nil
}

// syncObject matches and exports one AD user; it returns false when the
// export failed or left a conflict to retry.
func (t *Tenant) syncObject(a *ADUser, res *SyncResult) bool {
	anc := a.Anchor()
	var deleted *CloudUser
	for _, c := range t.entra.imm[anc] {
		if !c.Deleted() {
			if t.takeoverBlocked(a, c, res) {
				return false
			}
			res.Updated++
			return t.export(a, c, res, false)
		}
		deleted = c
	}
	if deleted != nil {
		if t.takeoverBlocked(a, deleted, res) {
			return false
		}
		// The AD object came back (reanimated): sync restores its cloud user.
		// It comes back under its original UPN, as a restore does
		// (deleted_upn.go); export then writes AD's.
		t.entra.update(deleted, func(c *CloudUser) { c.DeletedDateTime, c.UserPrincipalName = nil, originalUPN(c) })
		res.Restored++
		ok := t.export(a, deleted, res, false)
		t.provision(deleted)
		return ok
	}
	cand, attr, val := t.softMatchCandidate(a)
	if cand == nil {
		c := &CloudUser{ID: t.newGUID().String(), AccountEnabled: true, CreatedDateTime: t.now}
		t.entra.add(c)
		res.Added++
		return t.export(a, c, res, true)
	}
	var why string
	switch {
	case cand.Deleted():
		why = "it is in the recycle bin"
	case cand.OnPremisesImmutableID != "":
		why = "it already has an immutable ID (" + cand.OnPremisesImmutableID + ")"
	case len(cand.DirectoryRoles) > 0:
		why = "it holds an admin role"
	case t.org.BlockSoftMatch:
		why = "soft match is blocked for the tenant"
	default:
		res.Updated++
		return t.export(a, cand, res, false)
	}
	if !t.org.NoDuplicateResiliency {
		// Duplicate Attribute Resiliency, every tenant's default since
		// 2016: "Instead of completely failing to provision or update an
		// object with a duplicate attribute, Microsoft Entra ID
		// quarantines the duplicate attribute"; a UPN becomes
		// <OriginalPrefix>+<4DigitNumber>@<InitialTenantDomain>, a proxy
		// address is dropped, and the conflict is stored on the new
		// object (learn.microsoft.com/entra/identity/hybrid/connect/
		// how-to-connect-syncservice-duplicate-attribute-resiliency). With
		// it on "you won't see the InvalidSoftMatch synchronization errors
		// seen during provisioning of new objects" (tshoot-connect-sync-
		// errors#invalidsoftmatch): the AD object is provisioned as a new
		// cloud user beside the one it could not take over, and that new
		// user holds its anchor from then on.
		c := &CloudUser{ID: t.newGUID().String(), AccountEnabled: true, CreatedDateTime: t.now}
		t.entra.add(c)
		res.Added++
		return t.export(a, c, res, true)
	}
	// The page's "Current behavior" (before resiliency, and still for the
	// objects its known issue 1 names): "Microsoft Entra ID blocks that
	// object from being created ... retried by the sync client upon each
	// export cycle". The troubleshooting page calls a refused soft match
	// InvalidSoftMatch; the field reports of seeds 000, 001 and 003, all
	// of this behaviour, show AttributeValueMustBeUnique for it, and the
	// lab reports what they show.
	detail := fmt.Sprintf("%s %s is held by cloud user %s (%s), which cannot be soft matched: %s.",
		attr, val, cand.ID, cand.UserPrincipalName, why)
	res.Errors = append(res.Errors, SyncError{Code: CodeAttributeValueMustBeUnique, DN: a.DN, ObjectGUID: a.ObjectGUID.String(),
		Attribute: attr, Value: val, CloudUserID: cand.ID, Detail: detail})
	if !cand.Deleted() {
		cand.OnPremisesProvisioningErrors = []ProvisioningError{{Category: "PropertyConflict",
			OccurredDateTime: t.now, PropertyCausingError: attr, Value: val}}
	}
	return false
}

// takeoverBlocked reports, and records as an InvalidHardMatch export error,
// a hard match of AD user a to cloud user c that the tenant's
// blockCloudObjectTakeoverThroughHardMatchEnabled feature refuses: c is
// not synced (cloud-managed after sync was turned off, restored from the
// recycle bin, or never synced), so the match would take a cloud object
// over. "An InvalidHardMatch error occurs when there's an attempt to hard
// match objects present in Microsoft Entra ID ... but
// BlockCloudObjectTakeoverThroughHardMatchEnabled feature is enabled",
// for example when "DirSync has been disabled and re-enabled on the
// tenant" (learn.microsoft.com/entra/identity/hybrid/connect/
// tshoot-connect-sync-errors#invalidhardmatch). The object is retried on
// every cycle, as any export error.
func (t *Tenant) takeoverBlocked(a *ADUser, c *CloudUser, res *SyncResult) bool {
	if !t.org.BlockHardMatchTakeover || c.Synced() {
		return false
	}
	res.Errors = append(res.Errors, SyncError{Code: CodeInvalidHardMatch, DN: a.DN, ObjectGUID: a.ObjectGUID.String(),
		Attribute: "SourceAnchor", Value: a.Anchor(), CloudUserID: c.ID,
		Detail: fmt.Sprintf("Cloud user %s (%s) holds the source anchor %s but is not synced, and the tenant blocks cloud object takeover through hard match (blockCloudObjectTakeoverThroughHardMatchEnabled).",
			c.ID, c.UserPrincipalName, a.Anchor())})
	return true
}

// softMatchCandidate returns the cloud user (active first, else in the
// recycle bin) whose primary SMTP address, else whose UPN, equals a's.
func (t *Tenant) softMatchCandidate(a *ADUser) (*CloudUser, string, string) {
	if smtp := a.PrimarySMTP(); smtp != "" {
		var l []*CloudUser
		for _, c := range t.entra.proxy[proxyKey("smtp:"+smtp)] {
			if strings.EqualFold(primarySMTP(c.ProxyAddresses), smtp) {
				l = append(l, c)
			}
		}
		if c := anyHolder(l, nil); c != nil {
			return c, "ProxyAddresses", "SMTP:" + smtp
		}
	}
	if a.UserPrincipalName != "" {
		if c := anyHolder(t.entra.upn[fold(a.UserPrincipalName)], nil); c != nil {
			return c, "UserPrincipalName", a.UserPrincipalName
		}
	}
	return nil, "", ""
}

// export writes AD user a to cloud user c (fresh when sync has just
// created it): AD values overwrite cloud values, c takes a's anchor,
// Exchange attributes flow when mailNickname is set. It returns false when
// the object must be retried.
//
// A UPN or proxy address another cloud user (active or in the recycle bin)
// holds is handled as the duplicate attribute resiliency page says
// (learn.microsoft.com/entra/identity/hybrid/connect/
// how-to-connect-syncservice-duplicate-attribute-resiliency):
//   - with resiliency (the default), the value is quarantined: the UPN
//     becomes prefix+NNNN@tenant.onmicrosoft.com, a proxy address is
//     dropped, the conflict is recorded on c. "Since the export for this
//     object has succeeded, the sync client doesn't log an error and
//     doesn't retry": the cycle reports the conflict only when it is new,
//     and the hourly sweep (sweepQuarantine) gives the value back once
//     it is free;
//   - without it, "Microsoft Entra ID blocks that object from being
//     created ... if an object is updated with a non-unique UPN or
//     ProxyAddress, the update fails", retried and reported every cycle:
//     nothing is written (a fresh object is not created).
func (t *Tenant) export(a *ADUser, c *CloudUser, res *SyncResult, fresh bool) bool {
	proxies := a.ProxyAddresses
	if len(proxies) == 0 && a.Mail != "" {
		proxies = []string{"SMTP:" + a.Mail}
	}
	resilient := !t.org.NoDuplicateResiliency
	known := map[string]time.Time{}
	for _, e := range c.OnPremisesProvisioningErrors {
		known[e.PropertyCausingError+"\x00"+fold(e.Value)] = e.OccurredDateTime
	}
	var perrs []ProvisioningError
	before := exported(c)
	conflict := func(attr, val string) {
		if at, ok := known[attr+"\x00"+fold(val)]; ok && resilient {
			// Quarantined before: kept, and not reported again.
			perrs = append(perrs, ProvisioningError{Category: "PropertyConflict", OccurredDateTime: at, PropertyCausingError: attr, Value: val})
			return
		}
		perrs = append(perrs, ProvisioningError{Category: "PropertyConflict", OccurredDateTime: t.now, PropertyCausingError: attr, Value: val})
		detail := fmt.Sprintf("%s %s is held by another object; it was quarantined on %s.", attr, val, c.ID)
		if !resilient {
			detail = fmt.Sprintf("%s %s is held by another object; the export of %s failed.", attr, val, a.DN)
		}
		res.Errors = append(res.Errors, SyncError{Code: CodeAttributeValueMustBeUnique, DN: a.DN, ObjectGUID: a.ObjectGUID.String(),
			Attribute: attr, Value: val, CloudUserID: c.ID, Detail: detail})
	}
	upn := a.UserPrincipalName
	if anyHolder(t.entra.upn[fold(upn)], c) != nil {
		conflict("UserPrincipalName", upn)
		prefix, _, _ := strings.Cut(upn, "@")
		if q := c.UserPrincipalName; strings.HasPrefix(fold(q), fold(prefix)+"+") && strings.HasSuffix(fold(q), "@"+fold(t.cfg.TenantDomain)) {
			upn = q
		} else if resilient {
			upn = t.quarantineUPN(upn)
		}
	}
	var kept []string
	for _, p := range proxies {
		if anyHolder(t.entra.proxy[proxyKey(p)], c) != nil {
			conflict("ProxyAddresses", p)
			continue
		}
		kept = append(kept, p)
	}
	if len(kept) == len(proxies) {
		kept = proxies
	}
	if !resilient && len(perrs) > 0 {
		if fresh {
			t.entra.purge(c)
			res.Added--
		}
		return false
	}
	t.entra.update(c, func(c *CloudUser) {
		c.UserPrincipalName, c.DisplayName, c.Mail, c.ProxyAddresses = upn, a.DisplayName, a.Mail, kept
		// accountEnabled from userAccountControl's ACCOUNTDISABLE bit:
		// Connect's "In from AD – User AccountEnabled" rule applies "when
		// userAccountControl is set to the decimal value 512 (enabled
		// normal user)", not at 514 (disabled), and "always sets the value
		// True in the metaverse attribute named accountEnabled"
		// (concept-azure-ad-connect-sync-default-configuration). That a
		// disabled account's user then reads false is not on that page
		// (the catch-all rule's flow is not shown there); the lab assumes
		// it, as an account that cannot sign in on premises.
		c.AccountEnabled = !a.Disabled()
		c.OnPremisesImmutableID = a.Anchor()
		c.OnPremisesSyncEnabled = boolPtr(true)
		c.OnPremisesLastSyncDateTime = timePtr(t.now)
		c.OnPremisesDistinguishedName, c.OnPremisesSamAccountName, c.OnPremisesUserPrincipalName = a.DN, a.SAMAccountName, a.UserPrincipalName
		c.OnPremisesProvisioningErrors = perrs
		if !a.PwdLastSet.IsZero() {
			c.LastPasswordChangeDateTime = timePtr(a.PwdLastSet)
		}
		if a.MailNickname != "" {
			c.MailNickname = a.MailNickname
			c.Exchange = &ExchangeAttributes{MailNickname: a.MailNickname, MailboxGUID: a.MailboxGUID, ArchiveGUID: a.ArchiveGUID,
				TargetAddress: a.TargetAddress, RecipientTypeDetails: a.RecipientTypeDetails, RemoteRecipientType: a.RemoteRecipientType}
		} else if c.MailNickname == "" {
			c.MailNickname, _, _ = strings.Cut(a.UserPrincipalName, "@")
		}
	})
	t.sync.Provisioned[c.OnPremisesImmutableID] = true
	if !reflect.DeepEqual(before, exported(c)) {
		// Only a changed user goes on to Exchange and is validated again.
		t.provision(c)
	}
	return true
}

// CloudSyncCycle runs a cycle as Entra Cloud Sync does: it stops when its
// deletions reach the threshold (syncEngine). A Cloud Sync job's
// iterations run it.
func (t *Tenant) CloudSyncCycle(policy SyncPolicy) (SyncResult, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.syncCycleAs(policy, cloudSyncEngine)
}

// CloudSyncCycleForcingDeletes runs a Cloud Sync cycle with the deletion
// threshold off (a job restarted with ForceDeletes).
func (t *Tenant) CloudSyncCycleForcingDeletes(policy SyncPolicy) (SyncResult, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	th := t.cfg.DeletionThreshold
	t.cfg.DeletionThreshold = -1
	defer func() { t.cfg.DeletionThreshold = th }()
	return t.syncCycleAs(policy, cloudSyncEngine)
}

// LastRun returns the last cycle's report and its run number (the cycles
// that ran, refused ones excluded, counted from 1), or false when none ran:
// what Get-ADSyncRunProfileResult shows of the lab's Connect server.
func (t *Tenant) LastRun() (SyncResult, int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sync.Last == nil {
		return SyncResult{}, 0, false
	}
	return *t.sync.Last, t.sync.Runs, true
}
