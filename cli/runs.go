package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/journal"
)

type resumeOptions struct {
	IO    *IO
	G     *Globals
	RunID string
	Vars  varFlags
	Done  []string
	Rerun []string
}

func newResumeCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &resumeOptions{IO: ios, G: g}
	cmd := &cobra.Command{
		Use:   "resume RUN [--done ADDRESS] [--rerun ADDRESS]",
		Short: "Continue a run that stopped (failure, pause or crash)",
		Long: `resume continues a run where it stopped. Completed steps are not touched
again. A step whose write was in flight when the run stopped is observed again:
if it is already so it is marked done, otherwise it is applied again. An action
that cannot be observed and is not safe to repeat stops the resume; check the
object yourself and say --done ADDRESS or --rerun ADDRESS.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RunID = args[0]
			return runResume(opts)
		},
	}
	opts.Vars.register(cmd.Flags())
	cmd.Flags().StringArrayVar(&opts.Done, "done", nil, "an in-doubt action that did complete (repeatable)")
	cmd.Flags().StringArrayVar(&opts.Rerun, "rerun", nil, "an in-doubt action to run again (repeatable)")
	return cmd
}

func runResume(opts *resumeOptions) error {
	in, err := opts.Vars.inputs()
	if err != nil {
		return err
	}
	decide := map[string]string{}
	for _, a := range opts.Done {
		decide[a] = "done"
	}
	for _, a := range opts.Rerun {
		decide[a] = "rerun"
	}
	return onRun(opts.IO, opts.G, opts.RunID, func(ctx context.Context, e *engine.Engine) (*engine.Report, hcl.Diagnostics) {
		return e.Resume(ctx, opts.RunID, in, engine.ResumeOptions{Decide: decide})
	})
}

// onRun opens the journal, binds the engine to the lab the run used (unless
// --lab says otherwise), does the work on the run and reports how it ended.
func onRun(ios *IO, g *Globals, runID string, work func(context.Context, *engine.Engine) (*engine.Report, hcl.Diagnostics)) error {
	store, err := g.store()
	if err != nil {
		return err
	}
	defer store.Close()
	ctx, cancel := signalContext()
	defer cancel()
	e := newEngine(ios, g, store)
	if err := bindRunLab(ctx, e, store, runID); err != nil {
		return err
	}
	rep, diags := work(ctx, e)
	printDiags(ios, nil, diags)
	if diags.HasErrors() {
		return errReported
	}
	printReport(ios, rep)
	return reportErr(rep)
}

// bindRunLab makes resume and rollback use the lab the run was planned
// against, unless --lab says otherwise.
func bindRunLab(ctx context.Context, e *engine.Engine, store *journal.Store, id string) error {
	if e.Lab != "" {
		return nil
	}
	run, err := store.Run(ctx, id)
	if err != nil {
		return err
	}
	var p struct {
		Lab string `json:"lab"`
	}
	if json.Unmarshal(run.Plan, &p) == nil && p.Lab != "" {
		bindLab(e, p.Lab)
	}
	return nil
}

type rollbackOptions struct {
	IO    *IO
	G     *Globals
	RunID string
	Vars  varFlags
}

func newRollbackCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &rollbackOptions{IO: ios, G: g}
	cmd := &cobra.Command{
		Use:   "rollback RUN",
		Short: "Revert the completed steps of a run, newest first",
		Long: `rollback brings every object a run changed back to its recorded
before-value, newest change first. Changes that cannot be undone (a purge, a
tenant sync switch inside its 72-hour window) are reported, not pretended away.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RunID = args[0]
			return runRollback(opts)
		},
	}
	opts.Vars.register(cmd.Flags())
	return cmd
}

func runRollback(opts *rollbackOptions) error {
	in, err := opts.Vars.inputs()
	if err != nil {
		return err
	}
	return onRun(opts.IO, opts.G, opts.RunID, func(ctx context.Context, e *engine.Engine) (*engine.Report, hcl.Diagnostics) {
		return e.Rollback(ctx, opts.RunID, in)
	})
}

type runsOptions struct {
	IO    *IO
	G     *Globals
	JSON  bool
	RunID string
}

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
		Use:   "show RUN [--json]",
		Short: "Show a run and its journal",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RunID = args[0]
			return runRunsShow(opts)
		},
	}
	show.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
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
}

func toRunJSON(r journal.Run) runJSON {
	return runJSON{ID: r.ID, Runbook: r.Runbook, Status: string(r.Status), Error: r.Error,
		PlanDigest: r.PlanDigest, Author: r.Author, Created: r.Created, Updated: r.Updated}
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
	if opts.JSON {
		out := make([]runJSON, 0, len(runs))
		for _, r := range runs {
			out = append(out, toRunJSON(r))
		}
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(runs) == 0 {
		fmt.Fprintln(opts.IO.Out, "No runs yet.")
		return nil
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tRUNBOOK\tSTATUS\tSTARTED\tNOTE")
	for _, r := range runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Runbook, r.Status, r.Created.Local().Format("2006-01-02 15:04:05"), r.Error)
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
	run, err := store.Run(ctx, opts.RunID)
	if err != nil {
		return err
	}
	recs, err := store.Records(ctx, run.ID)
	if err != nil {
		return err
	}
	if opts.JSON {
		out := struct {
			runJSON
			Records []recordJSON `json:"records"`
		}{runJSON: toRunJSON(run)}
		for _, r := range recs {
			rj := recordJSON{Seq: r.Seq, Time: r.Time, Kind: string(r.Kind), Step: r.Step, Error: r.Error}
			if len(r.Data) > 0 && json.Valid(r.Data) {
				rj.Data = r.Data
			}
			out.Records = append(out.Records, rj)
		}
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(opts.IO.Out, "Run %s  %s  %s\n", run.ID, run.Runbook, run.Status)
	if run.Error != "" {
		fmt.Fprintf(opts.IO.Out, "  %s\n", run.Error)
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	for _, r := range recs {
		detail := r.Error
		if r.Kind == journal.KindDecision {
			var d struct{ Decision, Detail string }
			_ = json.Unmarshal(r.Data, &d)
			detail = d.Decision + ": " + d.Detail
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.Seq, r.Time.Local().Format("15:04:05.000"), r.Kind, r.Step, detail)
	}
	return tw.Flush()
}

type approveStepOptions struct {
	IO    *IO
	G     *Globals
	RunID string
	Step  string
	By    string
}

func newApproveStepCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &approveStepOptions{IO: ios, G: g}
	cmd := &cobra.Command{
		Use:   "approve-step RUN STEP",
		Short: "Record a person's go-ahead for a run paused at an approve step",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RunID, opts.Step = args[0], args[1]
			return runApproveStep(opts)
		},
	}
	cmd.Flags().StringVar(&opts.By, "by", "", "who approves (default: the local user)")
	return cmd
}

func runApproveStep(opts *approveStepOptions) error {
	store, err := opts.G.store()
	if err != nil {
		return err
	}
	defer store.Close()
	ctx := context.Background()
	run, err := store.Run(ctx, opts.RunID)
	if err != nil {
		return err
	}
	by := opts.By
	if by == "" {
		by = currentUser()
	}
	if err := store.ApproveStep(ctx, run.ID, opts.Step, by); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "Recorded %s's go-ahead for %s in run %s. Continue with: rebind resume %s\n", by, opts.Step, run.ID, run.ID)
	return nil
}
