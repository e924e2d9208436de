package labhttp_test

import (
	"testing"
	"time"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/labhttp"
)

type syncJob struct {
	ID     string `json:"id"`
	Status struct {
		Code          string `json:"code"`
		LastExecution *struct {
			ActivityIdentifier string `json:"activityIdentifier"`
			State              string `json:"state"`
			TimeBegan          string `json:"timeBegan"`
			TimeEnded          string `json:"timeEnded"`
			Error              *struct {
				Code string `json:"code"`
			} `json:"error"`
		} `json:"lastExecution"`
		Quarantine *struct {
			Reason string `json:"reason"`
		} `json:"quarantine"`
	} `json:"status"`
}

// TestCloudSyncJob drives the lab's sync engine through the Cloud Sync job
// calls as the synchronization API reference documents them: an Active job
// runs on its schedule (a Delta iteration each interval) and start leaves
// it be ("use the start job only when the job is currently paused or in
// quarantine"); a paused job runs nothing until started; restart with a
// Watermark reset (or no criteria, which includes it) re-evaluates every
// object (Initial). Each run is reported by its own activity identifier,
// export errors as EntryLevelErrors.
func TestCloudSyncJob(t *testing.T) {
	tn := load(t, "restore-mistake")
	srv := labServer(t, tn, labhttp.ServerOptions{})
	jobURL := srv.URL + "/v1.0/servicePrincipals/6ba1b0c8-5f6c-4e59-8f3e-2a3b0f1c9d11/synchronization/jobs/AD2AADProvisioning.abc.def"
	read := func() syncJob {
		t.Helper()
		var j syncJob
		wantStatus(t, call(t, "GET", jobURL, nil, &j), 200)
		return j
	}
	before := read()
	if before.ID != "AD2AADProvisioning.abc.def" || before.Status.LastExecution == nil || before.Status.Code != "Active" {
		t.Fatalf("job before = %+v", before)
	}
	first := before.Status.LastExecution.ActivityIdentifier

	// Started while Active: nothing more runs.
	wantStatus(t, call(t, "POST", jobURL+"/start", nil, nil), 204)
	if j := read(); j.Status.LastExecution.ActivityIdentifier != first {
		t.Fatalf("start of an active job ran a cycle: %+v", j)
	}
	// The interval passes: the scheduled Delta iteration runs.
	if err := tn.Advance(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	j := read()
	last, _ := tn.LastSync()
	ex := j.Status.LastExecution
	if last.Policy != lab.Delta || ex == nil || ex.ActivityIdentifier != last.ID || ex.ActivityIdentifier == first ||
		ex.State != "EntryLevelErrors" || j.Status.Code != "Active" {
		t.Fatalf("after the interval: job %+v, last cycle %+v", j, last)
	}

	// Paused, the job does not run on its schedule; started, it carries on.
	wantStatus(t, call(t, "POST", jobURL+"/pause", nil, nil), 204)
	_ = tn.Advance(2 * time.Minute)
	if p := read(); p.Status.Code != "Paused" || p.Status.LastExecution.ActivityIdentifier != last.ID {
		t.Fatalf("paused job = %+v", p)
	}
	wantStatus(t, call(t, "POST", jobURL+"/start", nil, nil), 204)
	if l, _ := tn.LastSync(); l.ID == last.ID || l.Policy != lab.Delta || read().Status.Code != "Active" {
		t.Fatalf("start of a paused job: last cycle %+v", l)
	}

	wantStatus(t, call(t, "POST", jobURL+"/restart", map[string]any{"criteria": map[string]any{"resetScope": "Watermark, Escrows"}}, nil), 204)
	if last, _ := tn.LastSync(); last.Policy != lab.Initial {
		t.Fatalf("restart with Watermark ran a %s cycle", last.Policy)
	}
	wantStatus(t, call(t, "POST", jobURL+"/restart", map[string]any{"criteria": map[string]any{"resetScope": "Everything"}}, nil), 400)
	wantStatus(t, call(t, "POST", jobURL+"/restart", map[string]any{"criteria": map[string]any{"resetScope": "Escrows"}}, nil), 204)
	if last, _ := tn.LastSync(); last.Policy != lab.Delta {
		t.Fatalf("restart without a Watermark reset ran a %s cycle", last.Policy)
	}
	wantStatus(t, call(t, "POST", jobURL+"/restart", nil, nil), 204)
	if last, _ := tn.LastSync(); last.Policy != lab.Initial {
		t.Fatalf("restart without criteria (QuarantineState, Watermark, Escrows) ran a %s cycle", last.Policy)
	}

	_ = tn.SetDirSyncEnabled(false)
	wantStatus(t, call(t, "POST", jobURL+"/pause", nil, nil), 204)
	wantStatus(t, call(t, "POST", jobURL+"/start", nil, nil), 409)
}

// TestCloudSyncJobQuarantine: an iteration stopped by the deletion threshold
// puts the job in quarantine for TooManyDeletes, where it runs nothing on
// its schedule; start clears the quarantine (and, the deletions still
// pending, the next iteration quarantines it again); a restart with
// ForceDeletes lets them through.
func TestCloudSyncJobQuarantine(t *testing.T) {
	tn := withThreshold(t, 1)
	deleteADUsers(t, tn, 2)
	srv := labServer(t, tn, labhttp.ServerOptions{})
	jobURL := srv.URL + "/v1.0/servicePrincipals/sp/synchronization/jobs/job"
	_ = tn.Advance(2 * time.Minute)
	var j syncJob
	wantStatus(t, call(t, "GET", jobURL, nil, &j), 200)
	ex := j.Status.LastExecution
	if j.Status.Code != "Quarantine" || j.Status.Quarantine == nil || j.Status.Quarantine.Reason != "TooManyDeletes" ||
		ex == nil || ex.State != "Failed" || ex.Error == nil || ex.Error.Code != "TooManyDeletes" {
		t.Fatalf("job after a cycle over the threshold = %+v", j)
	}
	stopped := ex.ActivityIdentifier
	_ = tn.Advance(2 * time.Minute)
	wantStatus(t, call(t, "GET", jobURL, nil, &j), 200)
	if j.Status.LastExecution.ActivityIdentifier != stopped {
		t.Fatalf("a quarantined job ran on its schedule: %+v", j)
	}
	wantStatus(t, call(t, "POST", jobURL+"/start", nil, nil), 204)
	wantStatus(t, call(t, "GET", jobURL, nil, &j), 200)
	if j.Status.LastExecution.ActivityIdentifier == stopped || j.Status.Code != "Quarantine" {
		t.Fatalf("start of a quarantined job: %+v; want it run again and back in quarantine", j)
	}
	wantStatus(t, call(t, "POST", jobURL+"/restart", map[string]any{"criteria": map[string]any{"resetScope": "QuarantineState, ForceDeletes"}}, nil), 204)
	wantStatus(t, call(t, "GET", jobURL, nil, &j), 200)
	if last, _ := tn.LastSync(); j.Status.Code != "Active" || last.Deleted != 2 {
		t.Fatalf("after ForceDeletes: job %+v, last cycle %+v", j, last)
	}
}
