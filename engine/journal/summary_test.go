package journal

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestContractSummaryAndPages holds both journals to what `runs show` and
// resume read of a large run: the instances of each step counted by state
// (as the engine reads the journal: an intent without an outcome is in
// doubt, a later attempt replaces an earlier one, a revert's records come
// after the outcome), the records in pages that add up to Records, and
// Records split into heads and the payloads asked for.
func TestContractSummaryAndPages(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, map[string]func(t *testing.T, j Journal, another func() Journal){
		"SummaryAndPages": func(t *testing.T, j Journal, another func() Journal) {
			run := createRun(t, j, Run{})
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

			all := records(t, j, run.ID)
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
			// Heads: the same records without payloads; RecordData: the
			// payloads asked for (more than one query's worth), and none of
			// another run's.
			heads, err := j.Heads(ctx, run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(heads) != len(all) {
				t.Fatalf("%d heads, %d records", len(heads), len(all))
			}
			var seqs []int64
			for i, h := range heads {
				r := Record{Seq: all[i].Seq, RunID: all[i].RunID, Kind: all[i].Kind, Step: all[i].Step}
				if !reflect.DeepEqual(h, r) {
					t.Fatalf("head %d = %+v, want %+v", i, h, r)
				}
				seqs = append(seqs, h.Seq)
			}
			other := createRun(t, j, Run{})
			otherSeq, err := j.Append(ctx, Record{RunID: other.ID, Kind: KindNote, Data: []byte(`{"other":1}`)})
			if err != nil {
				t.Fatal(err)
			}
			data, err := j.RecordData(ctx, run.ID, append(seqs, otherSeq))
			if err != nil {
				t.Fatal(err)
			}
			if len(data) != len(all) {
				t.Errorf("RecordData gave %d payloads, want the run's %d", len(data), len(all))
			}
			for _, r := range all {
				if got, ok := data[r.Seq]; !ok || string(got) != string(r.Data) {
					t.Fatalf("payload of %d = %q, want %q", r.Seq, got, r.Data)
				}
			}
			if _, ok := data[otherSeq]; ok {
				t.Errorf("RecordData gave a payload of another run")
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

// TestHeadsReadTheIndexAlone checks that the SQLite journal answers Heads
// and Summary from the covering index records_heads, without the table's
// pages that hold every payload, and that a journal made before the index
// gets it when opened.
func TestHeadsReadTheIndexAlone(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openStore(t, dir)
	run := createRun(t, s, Run{})
	for _, q := range []string{
		`SELECT seq, kind, step FROM records WHERE run_id = ? ORDER BY seq`,
		fmt.Sprintf(summaryQuery, "records", "?"),
	} {
		rows, err := s.rdb.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if got := fmt.Sprint(plan); !strings.Contains(got, "USING COVERING INDEX records_heads") || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("%s:\nplan %s, want the covering index records_heads in seq order", q, got)
		}
	}
	if _, err := s.wconn.ExecContext(ctx, `DROP INDEX records_heads`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, dir)
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'records_heads'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("a journal without records_heads does not get it when opened (%d, %v)", n, err)
	}
}
