package lab

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite scenarios/*.json from the builders in this file")

// scenarioBuild makes one scenario file: build drives the model through
// the events the field report describes, so the file holds a state the
// model itself reached; gen adds healthy users around it.
type scenarioBuild struct {
	desc  string
	gen   []Generator
	build func(t *testing.T) *Tenant
}

var healthyAround = []Generator{{Count: 20, Name: "user%05d"}}

var scenarioBuilds = map[string]scenarioBuild{
	"healthy": {
		desc: "A healthy hybrid tenant: 25 synced, licensed users with mailboxes and a cloud-only admin.",
		gen:  []Generator{{Count: 25, Name: "user%05d"}},
		build: func(t *testing.T) *Tenant {
			tn := New(Config{})
			mustAdd(t, tn, CloudUser{UserPrincipalName: "admin@contoso.onmicrosoft.com", DisplayName: "Tenant admin",
				AccountEnabled: true, DirectoryRoles: []string{"Global Administrator"}})
			return tn
		},
	},
	"healthy-100k": {
		desc: "A healthy hybrid tenant of 100,000 synced, licensed users, for load and paging tests.",
		gen:  []Generator{{Count: 100000, Name: "user%06d"}},
		build: func(t *testing.T) *Tenant {
			return New(Config{})
		},
	},
	"cloud-100k": {
		desc: "100,000 cloud-only, licensed users without an immutable ID, for the paced apply benchmark (scripts/paced-100k.sh).",
		gen:  []Generator{{Count: 100000, Name: "cu%06d", Kind: "cloud"}},
		build: func(t *testing.T) *Tenant {
			return New(Config{})
		},
	},
	"restore-mistake": {
		desc: "Seed 000: nicki@contoso.com's AD account was deleted, sync deleted her cloud user and mailbox; " +
			"a new AD account was created with the same UPN and the cloud user was restored, so every cycle reports " +
			"AttributeValueMustBeUnique and deletes it again. It is in the recycle bin with its old immutable ID.",
		gen:   healthyAround,
		build: func(t *testing.T) *Tenant { return restoreMistake(t, false) },
	},
	"restore-mistake-dar": {
		desc: "Seed 000's events in a tenant with duplicate attribute resiliency (every tenant's default): the new AD " +
			"account could not take over the restored cloud user, so Connect provisioned it beside it as " +
			"nicki+NNNN@contoso.onmicrosoft.com, which now holds the new account's anchor; nicki's cloud user is in the recycle bin.",
		gen:   healthyAround,
		build: func(t *testing.T) *Tenant { return restoreMistake(t, true) },
	},
	"rebuilt-ad-dar": {
		desc: "Seed 001's events in a tenant with duplicate attribute resiliency: every " +
			"re-created AD account was provisioned beside its cloud user as userNN+NNNN@contoso.onmicrosoft.com, holding the new account's anchor.",
		gen:   healthyAround,
		build: func(t *testing.T) *Tenant { return rebuiltAD(t, true) },
	},
	"offboard-relink-dar": {
		desc: "Seed 003's events in a tenant with duplicate attribute resiliency: dana's and eli's new AD accounts were provisioned " +
			"beside their orphaned cloud users as dana+NNNN / eli+NNNN@contoso.onmicrosoft.com, holding the new accounts' anchors.",
		gen:   healthyAround,
		build: func(t *testing.T) *Tenant { return offboardRelink(t, true) },
	},
	"rebuilt-ad": {
		desc: "Seed 001: AD was rebuilt and its 12 users re-created with new objectGUIDs; Connect was reinstalled. " +
			"Every export fails with AttributeValueMustBeUnique against the cloud users, which keep the old immutable IDs. " +
			"Three stale users in the recycle bin hold addresses of user01..user03.",
		gen:   healthyAround,
		build: func(t *testing.T) *Tenant { return rebuiltAD(t, false) },
	},
	"offboard-relink": {
		desc: "Seed 003: Exchange was decommissioned and is being reinstalled. ann, bob and cy are synced with cloud " +
			"mailboxes and no remote mailbox on premises. dana and eli are synced cloud users whose AD objects are gone " +
			"(Connect never de-provisioned them); new AD accounts with the same UPN and address fail with " +
			"AttributeValueMustBeUnique. fay is an orphan with no AD account at all.",
		gen:   healthyAround,
		build: func(t *testing.T) *Tenant { return offboardRelink(t, false) },
	},
	"forest-move": {
		desc: "Six users (ada, bea, cal, dot, eve, gus) were moved to a new forest: their new AD accounts have new objectGUIDs " +
			"and an empty mS-DS-ConsistencyGuid. The old forest and its Connect server are gone; the new Connect server " +
			"(source anchor mS-DS-ConsistencyGuid) is installed with its scheduler off and has run no cycle yet. The cloud " +
			"users are still synced and keep the old accounts' immutable IDs, so a first cycle would provision every new " +
			"account beside its cloud user (duplicate attribute resiliency: name+NNNN@contoso.onmicrosoft.com). " +
			"A cloud-only admin stands by.",
		build: forestMove,
	},
	"cloud-only-takeover": {
		desc: "hana, ivan and jon were created in the cloud (no immutable ID, licensed, with mailboxes) before AD was " +
			"synced; AD accounts with the same UPNs and addresses were created for them. The tenant blocks soft match " +
			"(blockSoftMatchEnabled, as Microsoft advises outside a matching window) and Connect's scheduler is held, " +
			"so no cycle has seen the accounts yet: the next one would provision each beside its cloud user " +
			"(name+NNNN@contoso.onmicrosoft.com). sam and tia are synced users around them.",
		build: cloudOnlyTakeover,
	},
	"cloud-only-dar": {
		desc: "mia, noah and olga were created in the cloud (no immutable ID; mia and noah as unlicensed placeholders, " +
			"olga licensed with a mailbox); AD accounts were then created for them while the tenant blocks soft match, so " +
			"the first cycle provisioned each account beside its cloud user (duplicate attribute resiliency): " +
			"name+NNNN@contoso.onmicrosoft.com holds the account's anchor, its UPN and primary address quarantined.",
		gen:   healthyAround,
		build: cloudOnlyDAR,
	},
	"archive-guid-mismatch": {
		desc: "Seed 002 (a): arch1 and arch2 have cloud archives; on premises msExchArchiveGUID is empty for arch1 " +
			"and wrong for arch2, so Exchange reports \"Failed to sync the ArchiveGuid ... because one cloud archive ... exists\". " +
			"arch3 now has the right value on premises but no mailNickname, so it does not flow and the error stays.",
		gen: healthyAround,
		build: func(t *testing.T) *Tenant {
			tn := syncedTenant(t, Config{}, "arch1", "arch2", "arch3")
			for i, n := range []string{"arch1", "arch2", "arch3"} {
				mb := mailbox(t, tn, n+"@contoso.com", false)
				arch := newTestGUID(byte(0xa1 + i))
				tn.mu.Lock()
				tn.exo.update(tn.exo.byID[mb.ExchangeObjectID], func(r *Recipient) { r.ArchiveGUID = arch })
				tn.mu.Unlock()
				_, err := tn.UpdateADUser("CN="+n+","+usersOU, func(u *ADUser) {
					u.RecipientTypeDetails, u.RemoteRecipientType, u.RecipientDisplayType = RecipientRemoteUserMailbox, RemoteTypeProvisionMailbox, DisplayTypeRemoteMailUser
					u.TargetAddress = "SMTP:" + n + "@contoso.mail.onmicrosoft.com"
					u.MailboxGUID = mb.ExchangeGUID
					switch n {
					case "arch2":
						u.ArchiveGUID = newTestGUID(0xee)
					}
				})
				must(t, err)
			}
			mustSync(t, tn, Delta)
			// arch3's empty value reached Exchange and failed; the fix made
			// on premises since does not flow without mailNickname, and a
			// cycle that exports nothing for arch3 validates nothing again.
			_, err := tn.UpdateADUser("CN=arch3,"+usersOU, func(u *ADUser) { u.ArchiveGUID, u.MailNickname = newTestGUID(0xa3), "" })
			must(t, err)
			mustSync(t, tn, Delta)
			return tn
		},
	},
	"exchange-guid-in-use": {
		desc: "Seed 002 (b): erin and frank have remote mailboxes on premises whose msExchMailboxGuid is held by a " +
			"soft-deleted recipient: a mail user for erin, a mailbox on litigation hold for frank. Both get " +
			"\"The value ... of property ExchangeGuid is used by another recipient object\".",
		gen:   healthyAround,
		build: func(t *testing.T) *Tenant { return exchangeGUIDInUse(t, nil) },
	},
	"exchange-guid-in-use-held": {
		desc: "Seed 002 (b) where frank's soft-deleted mailbox is also kept by an organization-wide retention policy " +
			"(InPlaceHolds mbx...:2) besides its litigation hold, so it is an inactive mailbox that releasing the " +
			"litigation hold does not free.",
		gen: healthyAround,
		build: func(t *testing.T) *Tenant {
			return exchangeGUIDInUse(t, []string{"mbx7cfb30345d454ac0a989ab3041051209:2"})
		},
	},
}

// restoreMistake replays seed 000: nicki's AD account deleted, her cloud
// user deleted by sync, restored by hand, and a new AD account with her
// UPN. Without duplicate attribute resiliency (the seed's tenant: every
// cycle reports the conflict, and after the fix the cycle "Adds" the
// user, so no duplicate was ever provisioned) the new account is blocked;
// with it, Connect provisions it beside the restored user.
func restoreMistake(t *testing.T, resilient bool) *Tenant {
	tn := syncedTenant(t, Config{}, "nicki")
	tn.SetDuplicateResiliency(resilient)
	cu, _ := tn.CloudUser("nicki@contoso.com")
	must(t, tn.Advance(90*24*time.Hour))
	must(t, tn.DeleteADUser("CN=nicki,"+usersOU))
	mustSync(t, tn, Delta)
	must(t, tn.Advance(2*24*time.Hour))
	mustADUser(t, tn, "nicki")
	if _, err := tn.RestoreCloudUser(cu.ID, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	must(t, tn.Advance(3*time.Hour))
	mustSync(t, tn, Delta)
	return tn
}

// rebuiltAD replays seed 001: AD rebuilt, every user re-created with a new
// objectGUID under a new Connect server. The seed's tenant reports
// AttributeValueMustBeUnique on every export and provisions nothing, the
// behaviour without duplicate attribute resiliency; with it, every
// re-created account is provisioned beside its cloud user.
func rebuiltAD(t *testing.T, resilient bool) *Tenant {
	names := make([]string, 12)
	for i := range names {
		names[i] = fmt.Sprintf("user%02d", i+1)
	}
	tn := syncedTenant(t, Config{}, names...)
	tn.SetDuplicateResiliency(resilient)
	must(t, tn.Advance(200*24*time.Hour))
	for i := 1; i <= 3; i++ {
		old := fmt.Sprintf("user%02d.old@contoso.com", i)
		c := mustAdd(t, tn, CloudUser{UserPrincipalName: old, ProxyAddresses: []string{"SMTP:" + old}, AccountEnabled: true})
		must(t, tn.DeleteCloudUser(c.ID))
		tn.mu.Lock()
		tn.entra.update(tn.entra.byID[c.ID], func(u *CloudUser) {
			u.ProxyAddresses = append(u.ProxyAddresses, fmt.Sprintf("smtp:user%02d@contoso.com", i))
		})
		tn.mu.Unlock()
	}
	// The new forest and the new Connect server know nothing of
	// the old objects.
	must(t, tn.Advance(10*24*time.Hour))
	old := newForest(tn, false)
	for _, u := range old {
		u.ObjectGUID = [16]byte{}
		if _, err := tn.AddADUser(u); err != nil {
			t.Fatal(err)
		}
	}
	mustSync(t, tn, Initial)
	return tn
}

// newForest replaces tn's AD with an empty forest and its Connect server
// with a new one that remembers nothing (no watermark, no exported
// anchors), and returns the old forest's users by DN, to re-create there.
// With noRuns the new server has run no cycle either.
func newForest(tn *Tenant, noRuns bool) []ADUser {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	var old []ADUser
	for _, u := range tn.ad.byGUID {
		old = append(old, *u)
	}
	sort.Slice(old, func(i, j int) bool { return old[i].DN < old[j].DN })
	tn.ad.init()
	tn.ad.usn = 0
	tn.sync.init()
	tn.sync.Watermark = 0
	if noRuns {
		tn.sync.Last = nil
	}
	return old
}

// forestMove is the state before a new forest's first sync: the users were
// re-created there (new objectGUIDs, attributes copied), the old forest's
// Connect server is gone, and the new one was installed with its scheduler
// held (Set-ADSyncScheduler -SyncCycleEnabled $false,
// learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler)
// so that nothing is imported before the source anchors are carried over:
// "configure its ms-DS-ConsistencyGuid attribute before it's imported into
// Microsoft Entra Connect" (learn.microsoft.com/entra/identity/hybrid/connect/
// plan-connect-design-concepts#using-ms-ds-consistencyguid-as-sourceanchor).
func forestMove(t *testing.T) *Tenant {
	names := []string{"ada", "bea", "cal", "dot", "eve", "gus"}
	// No generated users around them: loading those marks every AD object
	// as seen by a cycle (the watermark), and the new forest's were not.
	tn := syncedTenant(t, Config{}, names...)
	mustAdd(t, tn, CloudUser{UserPrincipalName: "admin@contoso.onmicrosoft.com", DisplayName: "Tenant admin",
		AccountEnabled: true, DirectoryRoles: []string{"Global Administrator"}})
	must(t, tn.Advance(30*24*time.Hour))
	old := newForest(tn, true)
	tn.SetSchedulerEnabled(false)
	must(t, tn.Advance(2*24*time.Hour))
	for _, u := range old {
		u.ObjectGUID, u.ConsistencyGUID = [16]byte{}, [16]byte{}
		if _, err := tn.AddADUser(u); err != nil {
			t.Fatal(err)
		}
	}
	return tn
}

// cloudOnlyTakeover is a tenant whose first users were made in the cloud,
// now given AD accounts that are to take them over by hard match: soft
// match is blocked ("We advise customers to disable soft matching unless
// they need it to take over cloud only accounts",
// learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-install-existing-tenant)
// and the scheduler is held until the anchors are set.
func cloudOnlyTakeover(t *testing.T) *Tenant {
	names := []string{"hana", "ivan", "jon"}
	// No generated users around them: loading those marks every AD object
	// as seen by a cycle (the watermark), and these accounts were not.
	tn := syncedTenant(t, Config{}, "sam", "tia")
	for _, n := range names {
		mustAdd(t, tn, CloudUser{UserPrincipalName: n + "@contoso.com", DisplayName: n, Mail: n + "@contoso.com", AccountEnabled: true,
			MailNickname: n, ProxyAddresses: []string{"SMTP:" + n + "@contoso.com", "smtp:" + n + "@contoso.mail.onmicrosoft.com"}})
		license(t, tn, n+"@contoso.com")
	}
	must(t, tn.Advance(60*24*time.Hour))
	tn.SetSoftMatchBlocked(true)
	tn.SetSchedulerEnabled(false)
	for _, n := range names {
		mustADUser(t, tn, n)
	}
	return tn
}

// cloudOnlyDAR is cloud-only users whose AD accounts could not take them
// over (soft match blocked), so that duplicate attribute resiliency
// provisioned the accounts as second cloud users: "Instead of completely
// failing to provision or update an object with a duplicate attribute,
// Microsoft Entra ID quarantines the duplicate attribute"
// (learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-syncservice-duplicate-attribute-resiliency).
func cloudOnlyDAR(t *testing.T) *Tenant {
	tn := New(Config{})
	for _, n := range []string{"mia", "noah", "olga"} {
		mustAdd(t, tn, CloudUser{UserPrincipalName: n + "@contoso.com", DisplayName: n, Mail: n + "@contoso.com", AccountEnabled: true,
			MailNickname: n, ProxyAddresses: []string{"SMTP:" + n + "@contoso.com"}})
	}
	license(t, tn, "olga@contoso.com")
	must(t, tn.Advance(60*24*time.Hour))
	tn.SetSoftMatchBlocked(true)
	for _, n := range []string{"mia", "noah", "olga"} {
		mustADUser(t, tn, n)
	}
	mustSync(t, tn, Initial)
	return tn
}

// offboardRelink replays seed 003, whose new AD accounts fail with
// AttributeValueMustBeUnique every cycle (no duplicate attribute
// resiliency); with it, dana's and eli's new accounts are provisioned
// beside their orphaned cloud users.
func offboardRelink(t *testing.T, resilient bool) *Tenant {
	tn := syncedTenant(t, Config{}, "ann", "bob", "cy", "dana", "eli", "fay")
	tn.SetDuplicateResiliency(resilient)
	for _, n := range []string{"dana", "eli", "fay"} {
		u, _ := tn.ADUser("CN=" + n + "," + usersOU)
		must(t, tn.DeleteADUser(u.DN))
		tn.mu.Lock()
		delete(tn.sync.Provisioned, u.Anchor())
		tn.ad.unindex(tn.ad.byGUID[u.ObjectGUID])
		delete(tn.ad.byGUID, u.ObjectGUID)
		tn.mu.Unlock()
	}
	mustADUser(t, tn, "dana")
	mustADUser(t, tn, "eli")
	mustSync(t, tn, Delta)
	return tn
}

// exchangeGUIDInUse replays seed 002 (b); holds are the InPlaceHolds of
// frank's soft-deleted mailbox.
func exchangeGUIDInUse(t *testing.T, holds []string) *Tenant {
	tn := New(Config{})
	for i, n := range []string{"erin", "frank"} {
		g := newTestGUID(byte(0x51 + i))
		typ, hold := MailUser, false
		if n == "frank" {
			typ, hold = UserMailbox, true
		}
		if _, err := tn.AddRecipient(Recipient{ExternalDirectoryObjectID: newTestGUID(byte(0x61 + i)).String(), RecipientTypeDetails: typ,
			Alias: n + ".old", UserPrincipalName: n + ".old@contoso.com", PrimarySMTPAddress: n + ".old@contoso.com",
			ExchangeGUID: g, LitigationHoldEnabled: hold, InPlaceHolds: frankHolds(n, holds), WhenSoftDeleted: timePtr(Epoch.Add(-4 * 24 * time.Hour))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tn.AddADUser(ADUser{DN: "CN=" + n + "," + usersOU, SAMAccountName: n, UserPrincipalName: n + "@contoso.com",
			DisplayName: n, Mail: n + "@contoso.com", ProxyAddresses: []string{"SMTP:" + n + "@contoso.com"}, MailNickname: n,
			MailboxGUID: g, TargetAddress: "SMTP:" + n + "@contoso.mail.onmicrosoft.com", RecipientTypeDetails: RecipientRemoteUserMailbox,
			RemoteRecipientType: RemoteTypeProvisionMailbox, RecipientDisplayType: DisplayTypeRemoteMailUser}); err != nil {
			t.Fatal(err)
		}
	}
	mustSync(t, tn, Delta)
	return tn
}

func frankHolds(name string, holds []string) []string {
	if name == "frank" {
		return holds
	}
	return nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustAdd(t *testing.T, tn *Tenant, u CloudUser) CloudUser {
	t.Helper()
	c, err := tn.AddCloudUser(u)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestScenarioFilesCurrent checks that each scenario file is what its
// builder makes (run with -update to rewrite them after a model change).
func TestScenarioFilesCurrent(t *testing.T) {
	for name, b := range scenarioBuilds {
		t.Run(name, func(t *testing.T) {
			tn := b.build(t)
			tn.mu.Lock()
			st := tn.snapshot()
			tn.mu.Unlock()
			st.Description, st.Generate = b.desc, b.gen
			// The events are replayed with cycles run by hand; from the
			// scenario's start Connect's scheduler runs, as in a real
			// tenant, every 30 minutes by default
			// (learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler).
			st.Config.SyncInterval = Duration(30 * time.Minute)
			var buf bytes.Buffer
			must(t, writeState(&buf, st))
			want := buf.Bytes()
			path := filepath.Join(ScenarioDir, name+".json")
			if *update {
				must(t, os.WriteFile(path, want, 0o644))
				return
			}
			got, err := os.ReadFile(path)
			must(t, err)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s differs from its builder; run go test ./lab -run TestScenarioFilesCurrent -update", path)
			}
		})
	}
}
