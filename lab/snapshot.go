package lab

import (
	"fmt"
	"strings"
	"time"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/snapshot"
)

// FromSnapshot builds a tenant from a snapshot `rebind snapshot` took of a
// tenant's public APIs: a twin to rehearse on. What the public APIs do not
// show takes the lab's defaults, and what Connect remembers is inferred
// (see the rules below and snapshot.Snapshot.NotRead):
//
//   - the clock is the snapshot's time (Graph's Date header);
//   - Connect's settings are its defaults: the 30-minute scheduler
//     (how-to-connect-sync-feature-scheduler), a deletion threshold of 500
//     (how-to-connect-sync-feature-prevent-accidental-deletes);
//   - duplicate attribute resiliency is on, as in every tenant since 2016
//     (how-to-connect-syncservice-duplicate-attribute-resiliency);
//   - the anchors this Connect server exported are those of cloud users
//     whose immutable ID is the anchor of an AD object in the snapshot, live
//     or deleted: a cloud user anchored to an object of another forest was
//     synced by another server (seed 001) and is left alone;
//   - AD users whose anchor no cloud user holds are pending export, so the
//     next Delta cycle tries them again;
//   - a synced user's on-premises Exchange attributes, which Graph does not
//     show, are its AD object's.
//   - a tenant whose recycle bin shows a user's UPN prefixed with its
//     object id without dashes renames deleted users so
//     (Config.DeletedUPNPrefix, deleted_upn.go): the twin does too, and
//     a restore gives the original UPN back.
func FromSnapshot(s *snapshot.Snapshot) (*Tenant, error) {
	if err := s.Check(); err != nil {
		return nil, fmt.Errorf("lab: load snapshot: %w", err)
	}
	st := State{Now: s.TakenAt.UTC(), Description: "A twin of the tenant snapshot taken at " + s.TakenAt.UTC().Format(time.RFC3339) + "."}
	if s.Redacted {
		st.Description = "A twin of the tenant snapshot (redacted) taken at " + s.TakenAt.UTC().Format(time.RFC3339) + "."
	}
	st.Config = Config{DomainDN: s.AD.DomainDN, TenantDomain: s.Organization.InitialDomain(), SyncInterval: Duration(30 * time.Minute)}
	for _, d := range s.Organization.VerifiedDomains {
		if d.IsInitial {
			continue
		}
		st.Config.Domains = append(st.Config.Domains, Domain{Name: d.Name, Type: d.Type})
	}
	o := s.Organization
	st.Organization = Organization{ID: o.ID, DisplayName: o.DisplayName, OnPremisesSyncEnabled: o.OnPremisesSyncEnabled,
		OnPremisesLastSyncDateTime: o.OnPremisesLastSyncDateTime}
	if s.DirSync != nil {
		st.Organization.BlockSoftMatch = s.DirSync.BlockSoftMatchEnabled
		st.Organization.BlockHardMatchTakeover = s.DirSync.BlockCloudObjectTakeoverThroughHardMatchEnabled
	}

	anchors := map[string]*ADUser{} // immutable ID -> AD object
	for i, a := range s.AD.Users {
		u, err := adFromSnapshot(a)
		if err != nil {
			return nil, fmt.Errorf("lab: load snapshot: ad.users[%d] (%s): %w", i, a.DistinguishedName, err)
		}
		st.AD = append(st.AD, u)
		st.ADUSN = max(st.ADUSN, u.USNChanged)
	}
	for i := range st.AD {
		anchors[st.AD[i].Anchor()] = &st.AD[i]
	}
	held := map[string]bool{}
	prefixes := false
	for i, su := range s.Users {
		u := CloudUser{ID: su.ID, DisplayName: su.DisplayName, UserPrincipalName: su.UserPrincipalName, Mail: su.Mail,
			MailNickname: su.MailNickname, ProxyAddresses: su.ProxyAddresses, AccountEnabled: su.AccountEnabled,
			OnPremisesImmutableID: su.OnPremisesImmutableID, OnPremisesSyncEnabled: su.OnPremisesSyncEnabled,
			OnPremisesLastSyncDateTime: su.OnPremisesLastSyncDateTime, OnPremisesDistinguishedName: su.OnPremisesDistinguishedName,
			OnPremisesSamAccountName: su.OnPremisesSamAccountName, OnPremisesUserPrincipalName: su.OnPremisesUserPrincipalName,
			AssignedLicenses: su.AssignedLicenses, LastPasswordChangeDateTime: su.LastPasswordChangeDateTime,
			CreatedDateTime: su.CreatedDateTime, DeletedDateTime: su.DeletedDateTime}
		for _, e := range su.OnPremisesProvisioningErrors {
			u.OnPremisesProvisioningErrors = append(u.OnPremisesProvisioningErrors, ProvisioningError(e))
		}
		for _, e := range su.ServiceProvisioningErrors {
			u.ServiceProvisioningErrors = append(u.ServiceProvisioningErrors, ServiceProvisioningError(e))
		}
		if id := su.OnPremisesImmutableID; id != "" {
			held[id] = true
			if a := anchors[id]; a != nil {
				st.Sync.Provisioned = append(st.Sync.Provisioned, id)
				if su.Synced() && !a.IsDeleted && a.MailNickname != "" {
					u.Exchange = &ExchangeAttributes{MailNickname: a.MailNickname, MailboxGUID: a.MailboxGUID, ArchiveGUID: a.ArchiveGUID,
						TargetAddress: a.TargetAddress, RecipientTypeDetails: a.RecipientTypeDetails, RemoteRecipientType: a.RemoteRecipientType}
				}
			}
		}
		if u.ID == "" {
			return nil, fmt.Errorf("lab: load snapshot: users[%d] (%s): no id", i, su.UserPrincipalName)
		}
		if u.Deleted() && originalUPN(&u) != u.UserPrincipalName {
			prefixes = true
		}
		st.Users = append(st.Users, u)
	}
	for _, a := range st.AD {
		if !a.IsDeleted && !held[a.Anchor()] {
			st.Sync.Pending = append(st.Sync.Pending, a.ObjectGUID.String())
		}
	}
	st.Sync.Watermark = st.ADUSN
	if o.OnPremisesLastSyncDateTime != nil {
		st.Sync.LastRun = *o.OnPremisesLastSyncDateTime
	}
	for i, r := range s.Recipients {
		x := Recipient{ExchangeObjectID: r.ExchangeObjectID, ExternalDirectoryObjectID: r.ExternalDirectoryObjectID,
			RecipientTypeDetails: RecipientType(r.RecipientTypeDetails), Alias: r.Alias, DisplayName: r.DisplayName,
			UserPrincipalName: r.UserPrincipalName, PrimarySMTPAddress: r.PrimarySMTPAddress, EmailAddresses: r.EmailAddresses,
			LitigationHoldEnabled: r.LitigationHoldEnabled, InPlaceHolds: r.InPlaceHolds, DelayHoldApplied: r.DelayHoldApplied,
			DelayReleaseHoldApplied: r.DelayReleaseHoldApplied, ComplianceTagHoldApplied: r.ComplianceTagHoldApplied,
			WhenSoftDeleted: r.WhenSoftDeleted}
		var err error
		if x.ExchangeGUID, err = optGUID(r.ExchangeGUID); err != nil {
			return nil, fmt.Errorf("lab: load snapshot: recipients[%d] (%s): ExchangeGuid: %w", i, r.Alias, err)
		}
		if x.ArchiveGUID, err = optGUID(r.ArchiveGUID); err != nil {
			return nil, fmt.Errorf("lab: load snapshot: recipients[%d] (%s): ArchiveGuid: %w", i, r.Alias, err)
		}
		st.Recipients = append(st.Recipients, x)
	}
	t, err := FromState(st)
	if err != nil {
		return nil, err
	}
	// Set after loading: the deleted users keep the UPNs the snapshot
	// shows, and users deleted in the twin from now on are prefixed.
	t.cfg.DeletedUPNPrefix = prefixes
	return t, nil
}

func optGUID(s string) (anchor.GUID, error) {
	if s == "" {
		return anchor.GUID{}, nil
	}
	return anchor.ParseGUID(s)
}

func adFromSnapshot(a snapshot.ADUser) (ADUser, error) {
	u := ADUser{DN: a.DistinguishedName, CN: a.CN, SAMAccountName: a.SAMAccountName, UserPrincipalName: a.UserPrincipalName,
		DisplayName: a.DisplayName, Mail: a.Mail, ProxyAddresses: a.ProxyAddresses, MailNickname: a.MailNickname,
		TargetAddress: a.TargetAddress, RecipientTypeDetails: a.RecipientTypeDetails, RemoteRecipientType: a.RemoteRecipientType,
		RecipientDisplayType: a.RecipientDisplayType, IsDeleted: a.IsDeleted, IsRecycled: a.IsRecycled,
		LastKnownParent: a.LastKnownParent, WhenChanged: a.WhenChanged, USNChanged: a.USNChanged, UserAccountControl: a.UserAccountControl}
	if u.UserAccountControl == UFNormalAccount {
		u.UserAccountControl = 0 // the lab's default: NORMAL_ACCOUNT
	}
	if a.PwdLastSet != nil {
		u.PwdLastSet = *a.PwdLastSet
	}
	var err error
	for _, f := range []struct {
		name string
		in   string
		out  *anchor.GUID
	}{{"objectGUID", a.ObjectGUID, &u.ObjectGUID}, {"mS-DS-ConsistencyGuid", a.ConsistencyGUID, &u.ConsistencyGUID},
		{"msExchMailboxGuid", a.MailboxGUID, &u.MailboxGUID}, {"msExchArchiveGUID", a.ArchiveGUID, &u.ArchiveGUID}} {
		if *f.out, err = optGUID(f.in); err != nil {
			return u, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	// A deleted object's cn comes back mangled ("name\nDEL:guid"); the
	// model keeps the name and mangles it when it answers.
	if i := strings.Index(u.CN, "\nDEL:"); i >= 0 {
		u.CN = u.CN[:i]
	}
	if u.CN == "" {
		u.CN = rdnValue(u.DN)
	}
	return u, nil
}
