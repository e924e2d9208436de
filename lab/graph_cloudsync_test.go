package lab_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"testing"

	rebind "github.com/rebind-dev/rebind"
	"github.com/rebind-dev/rebind/lab"
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
// calls: start runs a Delta cycle, restart with a Full reset scope an
// Initial one, and the job reports each run by its own activity identifier,
// export errors as EntryLevelErrors.
func TestCloudSyncJob(t *testing.T) {
	tn := load(t, "restore-mistake")
	srv := labServer(t, tn, lab.ServerOptions{})
	jobURL := srv.URL + "/v1.0/servicePrincipals/6ba1b0c8-5f6c-4e59-8f3e-2a3b0f1c9d11/synchronization/jobs/AD2AADProvisioning.abc.def"
	var before syncJob
	wantStatus(t, call(t, "GET", jobURL, nil, &before), 200)
	if before.ID != "AD2AADProvisioning.abc.def" || before.Status.LastExecution == nil {
		t.Fatalf("job before = %+v, want the scenario's last cycle", before)
	}

	wantStatus(t, call(t, "POST", jobURL+"/start", nil, nil), 204)
	var j syncJob
	wantStatus(t, call(t, "GET", jobURL, nil, &j), 200)
	last, _ := tn.LastSync()
	ex := j.Status.LastExecution
	if last.Policy != lab.Delta || ex == nil || ex.ActivityIdentifier == "" || ex.ActivityIdentifier != last.ID ||
		ex.ActivityIdentifier == before.Status.LastExecution.ActivityIdentifier || ex.State != "EntryLevelErrors" || j.Status.Code != "Active" {
		t.Fatalf("after start: job %+v, last cycle %+v", j, last)
	}

	wantStatus(t, call(t, "POST", jobURL+"/restart", map[string]any{"criteria": map[string]any{"resetScope": "Watermark, Full"}}, nil), 204)
	if last, _ := tn.LastSync(); last.Policy != lab.Initial {
		t.Fatalf("restart with Full ran a %s cycle", last.Policy)
	}
	wantStatus(t, call(t, "POST", jobURL+"/restart", map[string]any{"criteria": map[string]any{"resetScope": "Everything"}}, nil), 400)
	wantStatus(t, call(t, "POST", jobURL+"/restart", nil, nil), 204)
	if last, _ := tn.LastSync(); last.Policy != lab.Delta {
		t.Fatalf("restart without criteria ran a %s cycle", last.Policy)
	}

	_ = tn.SetDirSyncEnabled(false)
	wantStatus(t, call(t, "POST", jobURL+"/start", nil, nil), 409)
}

// TestCloudSyncJobQuarantine: a cycle stopped by the deletion threshold
// leaves the job in quarantine for TooManyDeletes.
func TestCloudSyncJobQuarantine(t *testing.T) {
	raw, err := fs.ReadFile(rebind.Scenarios, "testdata/scenarios/healthy.json")
	if err != nil {
		t.Fatal(err)
	}
	var sc map[string]any
	if err := json.Unmarshal(raw, &sc); err != nil {
		t.Fatal(err)
	}
	sc["config"].(map[string]any)["deletionThreshold"] = 1
	raw, _ = json.Marshal(sc)
	tn, err := lab.Load(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	users, err := tn.SearchAD(lab.ADQuery{})
	if err != nil || len(users) < 2 {
		t.Fatalf("AD users: %d, %v", len(users), err)
	}
	for _, u := range users[:2] {
		if err := tn.DeleteADUser(u.DN); err != nil {
			t.Fatal(err)
		}
	}
	srv := labServer(t, tn, lab.ServerOptions{})
	jobURL := srv.URL + "/v1.0/servicePrincipals/sp/synchronization/jobs/job"
	wantStatus(t, call(t, "POST", jobURL+"/start", nil, nil), 204)
	var j syncJob
	wantStatus(t, call(t, "GET", jobURL, nil, &j), 200)
	ex := j.Status.LastExecution
	if j.Status.Code != "Quarantine" || j.Status.Quarantine == nil || j.Status.Quarantine.Reason != "TooManyDeletes" ||
		ex == nil || ex.State != "Failed" || ex.Error == nil || ex.Error.Code != "TooManyDeletes" {
		t.Fatalf("job after a cycle over the threshold = %+v", j)
	}
}
