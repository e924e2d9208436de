package engine

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/journal/pgtest"
)

// The shared PostgreSQL journal keeps a rollback's diagnostics as the
// SQLite one does: the revert-failure record that `runs show` pages
// through (RecordsPage) carries the range and the values.
func TestRollbackKeepsRevertDiagnosticsPostgreSQL(t *testing.T) {
	c := pgtest.Start(t)
	h := newHarness(t)
	ctx := context.Background()
	store, err := journal.OpenPG(ctx, c.NewDB(t), journal.PGOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	h.e.Store = store
	theWorld.set("a", "old")
	rep := h.apply(brittleSrc, nil)
	if rep.Status != journal.StatusRollbackFailed || len(rep.NotReverted) != 1 {
		t.Fatalf("status %q, not reverted %+v\n%s", rep.Status, rep.NotReverted, h.log.String())
	}
	wantRevertDiag(t, "report", rep.NotReverted[0].Diagnostics)
	recs, _, err := store.RecordsPage(ctx, rep.RunID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, r := range recs {
		if r.Kind != journal.KindRevertFailure {
			continue
		}
		var fd FailureData
		if err := json.Unmarshal(r.Data, &fd); err != nil {
			t.Fatalf("record %d: %v: %q", r.Seq, err, r.Data)
		}
		wantRevertDiag(t, "journal", fd.Diagnostics)
		found++
	}
	if found != 1 {
		t.Fatalf("%d revert-failure records, want 1", found)
	}
}
