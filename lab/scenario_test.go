package lab_test

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/lab"
)

func load(t testing.TB, name string) *lab.Tenant {
	t.Helper()
	tn, err := lab.LoadScenario(lab.ScenarioFiles, name)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func cycle(t *testing.T, tn *lab.Tenant, p lab.SyncPolicy) lab.SyncResult {
	t.Helper()
	res, err := tn.SyncCycle(p)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func user(t *testing.T, tn *lab.Tenant, ref string) lab.CloudUser {
	t.Helper()
	u, err := tn.CloudUser(ref)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestScenariosRoundTrip loads every embedded scenario and checks that a
// dump of it loads back to the same dump: `rebind lab dump` output is a
// scenario.
func TestScenariosRoundTrip(t *testing.T) {
	names, err := lab.Scenarios(lab.ScenarioFiles)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"restore-mistake", "rebuilt-ad", "archive-guid-mismatch", "exchange-guid-in-use", "offboard-relink", "healthy"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("scenario %s missing from %v", want, names)
		}
	}
	for _, name := range names {
		if strings.HasSuffix(name, "-100k") {
			continue // same generators as healthy; BenchmarkDump100k measures healthy-100k's round trip
		}
		tn := load(t, name)
		if tn.Description() == "" {
			t.Errorf("%s: no description", name)
		}
		var a, b bytes.Buffer
		if err := tn.Save(&a); err != nil {
			t.Fatal(err)
		}
		back, err := lab.Load(bytes.NewReader(a.Bytes()))
		if err != nil {
			t.Fatalf("%s: reload of its dump: %v", name, err)
		}
		if err := back.Save(&b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: dump -> load -> dump differs", name)
		}
	}
}

func TestScenarioRestoreMistake(t *testing.T) {
	tn := load(t, "restore-mistake")
	last, _ := tn.LastSync()
	if len(last.Errors) != 1 || last.Errors[0].Code != lab.CodeAttributeValueMustBeUnique {
		t.Fatalf("last cycle = %+v", last)
	}
	del, _ := tn.CloudUsers(lab.CloudQuery{Deleted: true, UserPrincipalName: "nicki@contoso.com"})
	if len(del) != 1 {
		t.Fatalf("deleted nicki: %+v", del)
	}
	// The wrong fix: restore alone.
	if _, err := tn.RestoreCloudUser(del[0].ID, lab.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if res := cycle(t, tn, lab.Delta); res.Deleted != 1 {
		t.Fatalf("restore alone: cycle = %+v, want the user deleted again", res)
	}
	// The right fix.
	if _, err := tn.RestoreCloudUser(del[0].ID, lab.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.PatchCloudUser(del[0].ID, lab.CloudUserPatch{ClearImmutableID: true}); err != nil {
		t.Fatal(err)
	}
	cycle(t, tn, lab.Initial)
	ad, _ := tn.ADUser("CN=nicki,OU=Users,DC=corp,DC=example,DC=com")
	if u := user(t, tn, del[0].ID); u.OnPremisesImmutableID != ad.ObjectGUID.ImmutableID() || !u.Synced() {
		t.Fatalf("nicki after the fix = %+v", u)
	}
}

func TestScenarioRebuiltAD(t *testing.T) {
	tn := load(t, "rebuilt-ad")
	if res := cycle(t, tn, lab.Initial); len(res.Errors) != 12 || res.Added != 0 || res.Deleted != 0 {
		t.Fatalf("cycle = %d errors, %d added, %d deleted; want 12 AttributeValueMustBeUnique and nothing else", len(res.Errors), res.Added, res.Deleted)
	}
	if err := tn.SetDirSyncEnabled(false); err != nil {
		t.Fatal(err)
	}
	if err := tn.Advance(72 * time.Hour); err != nil {
		t.Fatal(err)
	}
	ads, _ := tn.SearchAD(lab.ADQuery{BaseDN: "OU=Users,DC=corp,DC=example,DC=com"})
	for _, a := range ads {
		if !strings.HasPrefix(a.SAMAccountName, "user0") && !strings.HasPrefix(a.SAMAccountName, "user1") {
			continue
		}
		c := user(t, tn, a.UserPrincipalName)
		id := a.ObjectGUID.ImmutableID()
		if _, err := tn.PatchCloudUser(c.ID, lab.CloudUserPatch{ImmutableID: &id}); err != nil {
			t.Fatalf("set immutable ID of %s: %v", a.UserPrincipalName, err)
		}
	}
	if err := tn.SetDirSyncEnabled(true); err != nil {
		t.Fatal(err)
	}
	res := cycle(t, tn, lab.Initial)
	if len(res.Errors) != 3 {
		t.Fatalf("with stale recycle-bin objects: %d errors, want 3 (%+v)", len(res.Errors), res.Errors)
	}
	stale, _ := tn.CloudUsers(lab.CloudQuery{Deleted: true})
	for _, s := range stale {
		if err := tn.PurgeCloudUser(s.ID); err != nil {
			t.Fatal(err)
		}
	}
	if res := cycle(t, tn, lab.Delta); len(res.Errors) != 0 {
		t.Fatalf("after purging: %+v", res.Errors)
	}
	if u := user(t, tn, "user01@contoso.com"); !u.Synced() || len(u.ProxyAddresses) != 2 {
		t.Fatalf("user01 = %+v", u)
	}
	// Verify as seed 001 does: a password change flows through a delta cycle.
	_ = tn.Advance(time.Hour)
	if _, err := tn.ModifyAD("CN=user01,OU=Users,DC=corp,DC=example,DC=com", []lab.ADModification{
		{Op: lab.ModReplace, Attr: "unicodePwd", Values: [][]byte{[]byte("\"\x00N\x00e\x00w\x00\"\x00")}}}); err != nil {
		t.Fatal(err)
	}
	cycle(t, tn, lab.Delta)
	if u := user(t, tn, "user01@contoso.com"); u.LastPasswordChangeDateTime == nil || !u.LastPasswordChangeDateTime.Equal(tn.Now()) {
		t.Fatalf("password change did not flow: %v, now %v", u.LastPasswordChangeDateTime, tn.Now())
	}
}

func TestScenarioArchiveGuidMismatch(t *testing.T) {
	tn := load(t, "archive-guid-mismatch")
	for _, upn := range []string{"arch1@contoso.com", "arch2@contoso.com", "arch3@contoso.com"} {
		u := user(t, tn, upn)
		if len(u.ServiceProvisioningErrors) != 1 || !strings.Contains(u.ServiceProvisioningErrors[0].ErrorDetail, "Failed to sync the ArchiveGuid") {
			t.Errorf("%s: errors %+v", upn, u.ServiceProvisioningErrors)
		}
	}
	mb := tn.Recipients(lab.RecipientQuery{Identity: "arch1@contoso.com"})
	if _, err := tn.UpdateADUser("CN=arch1,OU=Users,DC=corp,DC=example,DC=com", func(u *lab.ADUser) { u.ArchiveGUID = mb[0].ArchiveGUID }); err != nil {
		t.Fatal(err)
	}
	cycle(t, tn, lab.Delta)
	if u := user(t, tn, "arch1@contoso.com"); len(u.ServiceProvisioningErrors) != 0 {
		t.Fatalf("arch1 still has %+v", u.ServiceProvisioningErrors)
	}
	// arch3 already has the right msExchArchiveGUID; it only flows once
	// mailNickname is set.
	if u := user(t, tn, "arch3@contoso.com"); len(u.ServiceProvisioningErrors) != 1 {
		t.Fatalf("arch3 errors = %+v", u.ServiceProvisioningErrors)
	}
	if _, err := tn.UpdateADUser("CN=arch3,OU=Users,DC=corp,DC=example,DC=com", func(u *lab.ADUser) { u.MailNickname = "arch3" }); err != nil {
		t.Fatal(err)
	}
	cycle(t, tn, lab.Delta)
	if u := user(t, tn, "arch3@contoso.com"); len(u.ServiceProvisioningErrors) != 0 {
		t.Fatalf("arch3 still has %+v", u.ServiceProvisioningErrors)
	}
}

func TestScenarioExchangeGuidInUse(t *testing.T) {
	tn := load(t, "exchange-guid-in-use")
	for _, n := range []string{"erin", "frank"} {
		u := user(t, tn, n+"@contoso.com")
		if len(u.ServiceProvisioningErrors) != 1 || !strings.Contains(u.ServiceProvisioningErrors[0].ErrorDetail, `property "ExchangeGuid" is used by another recipient object`) {
			t.Fatalf("%s: %+v", n, u.ServiceProvisioningErrors)
		}
	}
	frank, _ := tn.ADUser("CN=frank,OU=Users,DC=corp,DC=example,DC=com")
	g := frank.MailboxGUID.String()
	if err := tn.RemoveRecipient(g, lab.UserMailbox); !errors.Is(err, lab.ErrRefused) {
		t.Fatalf("purging a mailbox on hold: %v", err)
	}
}

func TestScenarioOffboardRelink(t *testing.T) {
	tn := load(t, "offboard-relink")
	last, _ := tn.LastSync()
	if len(last.Errors) != 2 {
		t.Fatalf("last cycle errors = %+v; want dana and eli", last.Errors)
	}
	if err := tn.SetDirSyncEnabled(false); err != nil {
		t.Fatal(err)
	}
	_ = tn.Advance(72 * time.Hour)
	for _, n := range []string{"dana", "eli", "fay"} {
		u := user(t, tn, n+"@contoso.com")
		if _, err := tn.PatchCloudUser(u.ID, lab.CloudUserPatch{ClearImmutableID: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tn.SetDirSyncEnabled(true); err != nil {
		t.Fatal(err)
	}
	if res := cycle(t, tn, lab.Initial); len(res.Errors) != 0 || res.Added != 0 {
		t.Fatalf("full sync = %+v", res)
	}
	for _, n := range []string{"ann", "dana", "eli"} {
		if u := user(t, tn, n+"@contoso.com"); !u.Synced() {
			t.Errorf("%s not paired", n)
		}
	}
	if u := user(t, tn, "fay@contoso.com"); u.Synced() || u.OnPremisesImmutableID != "" {
		t.Errorf("fay = %+v; want cloud-managed without an anchor", u)
	}
}

// BenchmarkLoad100k loads the 100,000-user scenario and reports the heap
// it keeps.
func BenchmarkLoad100k(b *testing.B) {
	var tn *lab.Tenant
	for i := 0; i < b.N; i++ {
		tn = load(b, "healthy-100k")
	}
	b.StopTimer()
	b.ReportMetric(heapMB(), "heap-MB")
	runtime.KeepAlive(tn)
}

// heapMB returns the live heap after a collection, in MB.
func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}
