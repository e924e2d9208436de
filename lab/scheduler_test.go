package lab

import (
	"testing"
	"time"
)

// TestScheduler: Connect's scheduler runs a Delta cycle every 30 minutes
// as the clock passes; Set-ADSyncScheduler -SyncCycleEnabled $false holds
// it, $true lets it run again, an overdue cycle at once
// (learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler).
func TestScheduler(t *testing.T) {
	tn := syncedTenant(t, Config{SyncInterval: Duration(30 * time.Minute)}, "ann")
	last, _ := tn.LastSync()
	runs := func() string { r, _ := tn.LastSync(); return r.ID }
	start := runs()
	must(t, tn.Advance(29*time.Minute))
	if runs() != start {
		t.Fatal("a cycle ran before the interval passed")
	}
	mustADUser(t, tn, "bob")
	must(t, tn.Advance(time.Minute))
	r, _ := tn.LastSync()
	if r.ID == start || r.Policy != Delta || !r.Started.Equal(last.Started.Add(30*time.Minute)) || r.Added != 1 {
		t.Fatalf("the scheduled cycle: %+v", r)
	}

	tn.SetSchedulerEnabled(false)
	if st := tn.Scheduler(); st.SyncCycleEnabled || st.NextSyncCycleStartTimeInUTC != nil {
		t.Fatalf("held scheduler reports %+v", st)
	}
	held := runs()
	must(t, tn.Advance(3*time.Hour))
	if runs() != held {
		t.Fatal("a held scheduler ran a cycle")
	}
	// A cycle by hand still runs.
	mustSync(t, tn, Delta)
	byHand := runs()

	// (POST /lab/scheduler does the same over HTTP: lab/labhttp's
	// TestControlScheduler.)
	tn.SetSchedulerEnabled(true)
	st := tn.Scheduler()
	if !st.SyncCycleEnabled || st.NextSyncCycleStartTimeInUTC == nil || !st.NextSyncCycleStartTimeInUTC.Equal(tn.Now().Add(30*time.Minute)) {
		t.Fatalf("re-enabled scheduler reports %+v (now %s)", st, tn.Now())
	}
	must(t, tn.Advance(30*time.Minute))
	if runs() == byHand {
		t.Fatal("the re-enabled scheduler ran no cycle")
	}
}
