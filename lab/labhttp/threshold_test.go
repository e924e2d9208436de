package labhttp_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/labhttp"
)

// withThreshold loads the healthy scenario with another deletion threshold.
func withThreshold(t *testing.T, n int) *lab.Tenant {
	t.Helper()
	raw, err := fs.ReadFile(lab.ScenarioFiles, "scenarios/healthy.json")
	if err != nil {
		t.Fatal(err)
	}
	var sc map[string]any
	if err := json.Unmarshal(raw, &sc); err != nil {
		t.Fatal(err)
	}
	sc["config"].(map[string]any)["deletionThreshold"] = n
	raw, _ = json.Marshal(sc)
	tn, err := lab.Load(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// deleteADUsers deletes the first n AD users of tn.
func deleteADUsers(t *testing.T, tn *lab.Tenant, n int) {
	t.Helper()
	users, err := tn.SearchAD(lab.ADQuery{})
	if err != nil || len(users) < n {
		t.Fatalf("AD users: %d, %v", len(users), err)
	}
	for _, u := range users[:n] {
		if err := tn.DeleteADUser(u.DN); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDeletionThresholdBoundary: Connect is "configured to not allow an
// export with more than 500 deletes", and stops when "there were more
// objects to be deleted than the configured threshold"
// (https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-prevent-accidental-deletes).
// An export of exactly the threshold goes through; one more stops the
// cycle before anything is exported.
func TestDeletionThresholdBoundary(t *testing.T) {
	for _, tc := range []struct {
		deletes int
		stops   bool
	}{{3, false}, {4, true}} {
		tn := withThreshold(t, 3)
		deleteADUsers(t, tn, tc.deletes)
		res, err := tn.SyncCycle(lab.Delta)
		switch {
		case tc.stops && (!errors.Is(err, lab.ErrDeletionThreshold) || res.Status != lab.StatusDeletionThresholdExceeded || res.Deleted != 0):
			t.Errorf("%d deletions over a threshold of 3: %+v, %v; want the cycle stopped with nothing exported", tc.deletes, res, err)
		case !tc.stops && (err != nil || res.Deleted != tc.deletes):
			t.Errorf("%d deletions at a threshold of 3: %+v, %v; want them exported", tc.deletes, res, err)
		}
	}
}

// TestCloudSyncThresholdIsReached: Entra Cloud Sync's page words its
// threshold differently from Connect's: "you set the threshold for the
// number of objects that, if deleted, synchronization should stop. So if
// this number is reached, the synchronization stops"
// (https://learn.microsoft.com/entra/identity/hybrid/cloud-sync/how-to-accidental-deletes).
// The lab's Cloud Sync job stops at the threshold itself, where Connect
// (TestDeletionThresholdBoundary) exports it; one fewer goes through.
func TestCloudSyncThresholdIsReached(t *testing.T) {
	for _, tc := range []struct {
		deletes    int
		quarantine bool
	}{{2, false}, {3, true}} {
		tn := withThreshold(t, 3)
		deleteADUsers(t, tn, tc.deletes)
		srv := labServer(t, tn, labhttp.ServerOptions{})
		jobURL := srv.URL + "/v1.0/servicePrincipals/sp/synchronization/jobs/job"
		if err := tn.Advance(2 * time.Minute); err != nil {
			t.Fatal(err)
		}
		var j syncJob
		wantStatus(t, call(t, "GET", jobURL, nil, &j), 200)
		last, _ := tn.LastSync()
		switch {
		case tc.quarantine && (j.Status.Code != "Quarantine" || j.Status.Quarantine == nil || j.Status.Quarantine.Reason != "TooManyDeletes" || last.Deleted != 0):
			t.Errorf("%d deletions at a Cloud Sync threshold of 3: job %+v, last cycle %+v; want quarantine TooManyDeletes, nothing deleted", tc.deletes, j, last)
		case !tc.quarantine && (j.Status.Code != "Active" || last.Deleted != tc.deletes):
			t.Errorf("%d deletions under a Cloud Sync threshold of 3: job %+v, last cycle %+v; want them exported", tc.deletes, j, last)
		}
	}
}
