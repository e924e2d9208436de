package lab_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"testing"

	rebind "github.com/rebind-dev/rebind"
	"github.com/rebind-dev/rebind/lab"
)

// withThreshold loads the healthy scenario with another deletion threshold.
func withThreshold(t *testing.T, n int) *lab.Tenant {
	t.Helper()
	raw, err := fs.ReadFile(rebind.Scenarios, "testdata/scenarios/healthy.json")
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
		users, err := tn.SearchAD(lab.ADQuery{})
		if err != nil || len(users) < tc.deletes {
			t.Fatalf("AD users: %d, %v", len(users), err)
		}
		for _, u := range users[:tc.deletes] {
			if err := tn.DeleteADUser(u.DN); err != nil {
				t.Fatal(err)
			}
		}
		res, err := tn.SyncCycle(lab.Delta)
		switch {
		case tc.stops && (!errors.Is(err, lab.ErrDeletionThreshold) || res.Status != lab.StatusDeletionThresholdExceeded || res.Deleted != 0):
			t.Errorf("%d deletions over a threshold of 3: %+v, %v; want the cycle stopped with nothing exported", tc.deletes, res, err)
		case !tc.stops && (err != nil || res.Deleted != tc.deletes):
			t.Errorf("%d deletions at a threshold of 3: %+v, %v; want them exported", tc.deletes, res, err)
		}
	}
}
