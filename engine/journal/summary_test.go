package journal

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// TestContractSummaryAndPages holds both journals to what `runs show`
// reads of a large run: the instances of each step counted by state (as
// the engine reads the journal: an intent without an outcome is in doubt,
// a later attempt replaces an earlier one, a revert's records come after
// the outcome), and the records in pages that add up to Records.
func TestContractSummaryAndPages(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, map[string]func(t *testing.T, j Journal, another func() Journal){
		"SummaryAndPages": func(t *testing.T, j Journal, another func() Journal) {
			run := mustRun(t, j, Run{})
			add := func(kind Kind, step string) {
				t.Helper()
				if err := j.AppendLazy(ctx, Record{RunID: run.ID, Kind: kind, Step: step, Data: []byte(`{}`)}); err != nil {
					t.Fatal(err)
				}
			}
			add(KindOutcome, "data.ad_users.all") // a data block's recorded read
			add(KindIntent, "step.file.single")
			add(KindOutcome, "step.file.single")
			for i := range 250 {
				addr := fmt.Sprintf(`step.entra_immutable_id.bind["u%03d@contoso.com"]`, i)
				add(KindIntent, addr)
				switch {
				case i < 200:
					add(KindOutcome, addr)
				case i < 210:
					add(KindFailure, addr)
				case i < 215: // failed, then applied again by a resume
					add(KindFailure, addr)
					add(KindIntent, addr)
					add(KindOutcome, addr)
				}
				// 215..249: in doubt (the intent alone)
			}
			add(KindDecision, `step.entra_immutable_id.bind["u249@contoso.com"]`)
			add(KindIntent, "step.file.reverted")
			add(KindOutcome, "step.file.reverted")
			add(KindRevertIntent, "step.file.reverted")
			add(KindRevertOutcome, "step.file.reverted")
			add(KindNote, "")
			if err := j.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			got, err := another().Summary(ctx, run.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := []StepSummary{
				{Step: "data.ad_users.all", Instances: 1, Done: 1},
				{Step: "step.file.single", Instances: 1, Done: 1},
				{Step: "step.entra_immutable_id.bind", Instances: 250, Done: 205, Failed: 10, InDoubt: 35},
				{Step: "step.file.reverted", Instances: 1, Reverted: 1},
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("summary:\n got %+v\nwant %+v", got, want)
			}

			all := mustRecords(t, j, run.ID)
			var paged []Record
			for off := 0; ; off += 100 {
				page, total, err := j.RecordsPage(ctx, run.ID, off, 100)
				if err != nil {
					t.Fatal(err)
				}
				if total != len(all) {
					t.Fatalf("total %d, want %d", total, len(all))
				}
				if len(page) > 100 {
					t.Fatalf("a page of %d records, limit 100", len(page))
				}
				if len(page) == 0 {
					break
				}
				paged = append(paged, page...)
			}
			if !reflect.DeepEqual(paged, all) {
				t.Errorf("the pages (%d records) differ from Records (%d)", len(paged), len(all))
			}
			rest, _, err := j.RecordsPage(ctx, run.ID, 400, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(rest, all[400:]) {
				t.Errorf("limit 0 from 400: %d records, want the %d after the 400th", len(rest), len(all)-400)
			}
			if _, err := j.Summary(ctx, "no-such-run"); !errors.Is(err, ErrNotFound) {
				t.Errorf("summary of a missing run: %v, want ErrNotFound", err)
			}
			if _, _, err := j.RecordsPage(ctx, "no-such-run", 0, 10); !errors.Is(err, ErrNotFound) {
				t.Errorf("page of a missing run: %v, want ErrNotFound", err)
			}
		},
	})
}
