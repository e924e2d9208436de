package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/journal"
)

type runsOptions struct {
	IO    *IO
	G     *Globals
	JSON  bool
	RunID string
	// Page (from 1) and Limit (records per page; 0 for all; -1 for the
	// default) choose which of a run's records `runs show` prints.
	Page, Limit int
}

// The records `runs show` prints per page unless --limit says otherwise: a
// screenful as text, more as JSON, which a program reads.
const (
	defaultShowLimit     = 50
	defaultShowLimitJSON = 1000
)

func newRunsCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &runsOptions{IO: ios, G: g}
	cmd := &cobra.Command{
		Use:   "runs [--json]",
		Short: "List runs, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRuns(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	show := &cobra.Command{
		Use:   "show RUN [--json] [--page N] [--limit M]",
		Short: "Show a run and its journal",
		Long: `show prints a run, its instances counted by state for each step (done,
failed, in doubt, reverted), and its journal's records a page at a time:
--limit records per page (50, or 1000 with --json; 0 for all of them) and
--page to choose which, from 1.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RunID = args[0]
			return runRunsShow(opts)
		},
	}
	show.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	show.Flags().IntVar(&opts.Page, "page", 1, "which page of the journal's records to print, from 1")
	show.Flags().IntVar(&opts.Limit, "limit", -1, "records per page (default 50, or 1000 with --json; 0 for all)")
	cmd.AddCommand(show)
	return cmd
}

// runJSON is a run as `runs --json` prints it.
type runJSON struct {
	ID         string    `json:"id"`
	Runbook    string    `json:"runbook"`
	Status     string    `json:"status"`
	Error      string    `json:"error,omitempty"`
	PlanDigest string    `json:"plan_digest,omitempty"`
	Author     string    `json:"author,omitempty"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
	// With a shared journal (--state): who started the run, where, and
	// who holds it now.
	User  string     `json:"user,omitempty"`
	Host  string     `json:"host,omitempty"`
	Lease *leaseJSON `json:"lease,omitempty"`
}

// leaseJSON is a run's claim as `runs --json` prints it.
type leaseJSON struct {
	State   string     `json:"state"`
	Holder  string     `json:"holder,omitempty"`
	Token   int64      `json:"token,omitempty"`
	Expires *time.Time `json:"expires,omitempty"`
}

func toRunJSON(r journal.Run) runJSON {
	return runJSON{ID: r.ID, Runbook: r.Runbook, Status: string(r.Status), Error: r.Error,
		PlanDigest: r.PlanDigest, Author: r.Author, Created: r.Created, Updated: r.Updated,
		User: r.User, Host: r.Host}
}

// shared reports whether the journal records users and hosts (a shared
// journal): then `runs` shows them, and each run's lease.
func shared(runs ...journal.Run) bool {
	for _, r := range runs {
		if r.Host != "" || r.User != "" {
			return true
		}
	}
	return false
}

// withLease adds the run's lease to rj.
func withLease(ctx context.Context, store journal.Journal, rj *runJSON) (journal.Lease, error) {
	l, err := store.Lease(ctx, rj.ID)
	if err != nil {
		return l, err
	}
	lj := &leaseJSON{State: string(l.State), Holder: l.Holder, Token: l.Token}
	if !l.Expires.IsZero() {
		e := l.Expires.UTC()
		lj.Expires = &e
	}
	rj.Lease = lj
	return l, nil
}

func runRuns(opts *runsOptions) error {
	store, err := opts.G.store()
	if err != nil {
		return err
	}
	defer store.Close()
	runs, err := store.Runs(context.Background())
	if err != nil {
		return err
	}
	ctx := context.Background()
	wide := shared(runs...)
	out := make([]runJSON, 0, len(runs))
	leases := make([]journal.Lease, len(runs))
	for i, r := range runs {
		rj := toRunJSON(r)
		if wide {
			if leases[i], err = withLease(ctx, store, &rj); err != nil {
				return err
			}
		}
		out = append(out, rj)
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, out)
	}
	if len(runs) == 0 {
		fmt.Fprintln(opts.IO.Out, "No runs yet.")
		return nil
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	if wide {
		fmt.Fprintln(tw, "RUN\tRUNBOOK\tSTATUS\tSTARTED\tUSER\tHOST\tLEASE\tNOTE")
	} else {
		fmt.Fprintln(tw, "RUN\tRUNBOOK\tSTATUS\tSTARTED\tNOTE")
	}
	for i, r := range runs {
		if wide {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", safe(r.ID), safe(r.Runbook), safe(string(r.Status)), r.Created.Local().Format("2006-01-02 15:04:05"),
				safe(r.User), safe(r.Host), safe(leases[i].String()), safe(r.Error))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", safe(r.ID), safe(r.Runbook), safe(string(r.Status)), r.Created.Local().Format("2006-01-02 15:04:05"), safe(r.Error))
	}
	return tw.Flush()
}

// recordJSON is a journal record as `runs show --json` prints it.
type recordJSON struct {
	Seq   int64           `json:"seq"`
	Time  time.Time       `json:"time"`
	Kind  string          `json:"kind"`
	Step  string          `json:"step,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
	Error string          `json:"error,omitempty"`
}

func runRunsShow(opts *runsOptions) error {
	store, err := opts.G.store()
	if err != nil {
		return err
	}
	defer store.Close()
	ctx := context.Background()
	limit := opts.Limit
	if limit < 0 {
		limit = defaultShowLimit
		if opts.JSON {
			limit = defaultShowLimitJSON
		}
	}
	if opts.Page < 1 {
		return usageError{fmt.Errorf("--page %d: pages count from 1", opts.Page)}
	}
	if limit == 0 && opts.Page > 1 {
		return usageError{fmt.Errorf("--page %d with --limit 0: all the records are on page 1", opts.Page)}
	}
	run, err := store.Run(ctx, opts.RunID)
	if err != nil {
		return err
	}
	summary, err := store.Summary(ctx, run.ID)
	if err != nil {
		return err
	}
	recs, total, err := store.RecordsPage(ctx, run.ID, (opts.Page-1)*limit, limit)
	if err != nil {
		return err
	}
	pages := 1
	if limit > 0 && total > 0 {
		pages = (total + limit - 1) / limit
	}
	if opts.Page > pages {
		return usageError{fmt.Errorf("--page %d: run %s has %d records, %d page%s of %d", opts.Page, run.ID, total, pages, plural(pages), limit)}
	}
	rj := toRunJSON(run)
	var lease journal.Lease
	if shared(run) {
		if lease, err = withLease(ctx, store, &rj); err != nil {
			return err
		}
	}
	if opts.JSON {
		out := struct {
			runJSON
			Steps        []journal.StepSummary `json:"steps"`
			RecordsTotal int                   `json:"records_total"`
			Page         int                   `json:"page"`
			Pages        int                   `json:"pages"`
			Records      []recordJSON          `json:"records"`
		}{runJSON: rj, Steps: summary, RecordsTotal: total, Page: opts.Page, Pages: pages}
		if out.Steps == nil {
			out.Steps = []journal.StepSummary{}
		}
		for _, r := range recs {
			rj := recordJSON{Seq: r.Seq, Time: r.Time, Kind: string(r.Kind), Step: r.Step, Error: r.Error}
			if len(r.Data) > 0 && json.Valid(r.Data) {
				rj.Data = r.Data
			}
			out.Records = append(out.Records, rj)
		}
		return writeJSON(opts.IO.Out, out)
	}
	// The runbook's name, step addresses and errors come from the runbook
	// and the directories: each stays on its line, escaped (safe).
	fmt.Fprintf(opts.IO.Out, "Run %s  %s  %s\n", safe(run.ID), safe(run.Runbook), safe(string(run.Status)))
	if run.Error != "" {
		fmt.Fprintf(opts.IO.Out, "  %s\n", safe(run.Error))
	}
	if shared(run) {
		fmt.Fprintf(opts.IO.Out, "  started by %s on %s; lease: %s\n", safe(run.User), safe(run.Host), safe(lease.String()))
	}
	if len(summary) > 0 {
		fmt.Fprintln(opts.IO.Out, "\nInstances by state:")
		tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STEP\tINSTANCES\tDONE\tFAILED\tIN DOUBT\tREVERTED\tREVERT FAILED\tREVERT IN DOUBT")
		for _, s := range summary {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", safe(s.Step), s.Instances, s.Done, s.Failed, s.InDoubt, s.Reverted, s.RevertFailed, s.RevertInDoubt)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	switch {
	case total == 0:
		fmt.Fprintln(opts.IO.Out, "\nNo records.")
		return nil
	case pages == 1:
		fmt.Fprintf(opts.IO.Out, "\nRecords (%d):\n", total)
	default:
		first := (opts.Page-1)*limit + 1
		fmt.Fprintf(opts.IO.Out, "\nRecords %d-%d of %d (page %d of %d; --page N for another, --limit M for M a page, --limit 0 for all):\n",
			first, first+len(recs)-1, total, opts.Page, pages)
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	for _, r := range recs {
		detail := r.Error
		if r.Kind == journal.KindDecision {
			var d engine.Decision
			_ = json.Unmarshal(r.Data, &d)
			detail = d.Decision + ": " + d.Detail
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.Seq, r.Time.Local().Format("15:04:05.000"), safe(string(r.Kind)), safe(r.Step), safe(detail))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printFailureDiags(opts.IO.Out, recs)
	return nil
}

// printFailureDiags shows, after the records, the diagnostics the failure
// records of the page kept (engine.FailureData): where in the runbook each
// points, what it says, and the values the failing expression used, or
// those of the change a revert was to undo (a rollback's revert-failure
// records and its notes of changes it did not revert). Records without
// them (every record written before they were kept) add nothing.
func printFailureDiags(w io.Writer, recs []journal.Record) {
	first := true
	for _, r := range recs {
		kept := r.Kind == journal.KindFailure || r.Kind == journal.KindNote || r.Kind == journal.KindRevertFailure
		if !kept || len(r.Data) == 0 {
			continue
		}
		var fd engine.FailureData
		if json.Unmarshal(r.Data, &fd) != nil || len(fd.Diagnostics) == 0 {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nDiagnostics:")
			first = false
		}
		fmt.Fprintf(w, "  record %d  %s\n", r.Seq, safe(r.Step))
		for _, d := range fd.Diagnostics {
			head := d.Summary
			if d.Range != nil {
				head = d.Range.String() + ": " + d.Summary
			}
			fmt.Fprintf(w, "    %s\n", safe(head))
			if d.Detail != "" {
				fmt.Fprintf(w, "      %s\n", safe(d.Detail))
			}
			for _, v := range d.Values {
				fmt.Fprintf(w, "      %s\n", safe(v.Text()))
			}
		}
	}
}
