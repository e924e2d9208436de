package labhttp_test

import (
	"testing"
	"time"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/labhttp"
)

// TestControlScheduler: POST /lab/scheduler?syncCycleEnabled=false|true is
// Set-ADSyncScheduler -SyncCycleEnabled $false|$true, and GET
// /lab/scheduler answers as Get-ADSyncScheduler
// (learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler):
// a held scheduler runs no cycle as the clock passes, a released one runs
// its next cycle an interval after the last (lab.TestScheduler has the
// model's side).
func TestControlScheduler(t *testing.T) {
	tn := load(t, "healthy")
	srv := labServer(t, tn, labhttp.ServerOptions{})
	var st lab.SchedulerStatus
	wantStatus(t, call(t, "POST", srv.URL+"/lab/scheduler?syncCycleEnabled=false", nil, &st), 200)
	if st.SyncCycleEnabled || st.NextSyncCycleStartTimeInUTC != nil || tn.Scheduler().SyncCycleEnabled {
		t.Fatalf("held scheduler answers %+v, reports %+v", st, tn.Scheduler())
	}
	before, _ := tn.LastSync()
	if err := tn.Advance(3 * time.Hour); err != nil {
		t.Fatal(err)
	}
	if after, _ := tn.LastSync(); after.ID != before.ID {
		t.Fatalf("a held scheduler ran cycle %s", after.ID)
	}
	wantStatus(t, call(t, "POST", srv.URL+"/lab/scheduler?syncCycleEnabled=true", nil, &st), 200)
	if !st.SyncCycleEnabled || st.NextSyncCycleStartTimeInUTC == nil || !st.NextSyncCycleStartTimeInUTC.Equal(tn.Now()) {
		t.Fatalf("released scheduler answers %+v (now %s); want the overdue cycle due now", st, tn.Now())
	}
	var got lab.SchedulerStatus
	wantStatus(t, call(t, "GET", srv.URL+"/lab/scheduler", nil, &got), 200)
	if got.SyncCycleEnabled != st.SyncCycleEnabled || got.Interval != st.Interval || !got.NextSyncCycleStartTimeInUTC.Equal(*st.NextSyncCycleStartTimeInUTC) {
		t.Fatalf("GET /lab/scheduler = %+v, POST answered %+v", got, st)
	}
	wantStatus(t, call(t, "POST", srv.URL+"/lab/scheduler?syncCycleEnabled=maybe", nil, nil), 400)
}
