package cli

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/instance"
	"github.com/rebind-dev/rebind/lab/labhttp"
	"github.com/rebind-dev/rebind/lab/statediff"
)

type rehearseOptions struct {
	IO       *IO
	G        *Globals
	Runbook  string
	Scenario string
	Snapshot string
	Vars     varFlags
	Keep     bool
	// Progress: --verbose, --progress-interval (see apply).
	Progress progressFlags
	// labServer, when set, are the lab's server options (tests: an app
	// registration holding only some permissions).
	labServer labhttp.ServerOptions
}

func newRehearseCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &rehearseOptions{IO: ios, G: g}
	cmd := &cobra.Command{
		Use:   "rehearse RUNBOOK [--scenario NAME | --snapshot FILE] [-var name=value]",
		Short: "Run a runbook against a lab tenant that reproduces its problem",
		Long: `rehearse starts the lab tenant in this process with the scenario that
reproduces the problem the runbook fixes (its rehearsal.json, or --scenario),
shows the plan, applies it (sync cycles included), and prints what changed in
AD, Entra ID and Exchange Online and whether the run, with every check the
runbook makes, succeeded. Nothing outside the lab is touched. Waits pass the
lab's virtual time, so a 72-hour wait takes no real time.

With --snapshot the lab is a twin of the tenant a snapshot read (rebind
snapshot -o FILE): the runbook rehearses against your own tenant's objects.
Give the runbook's variables with -var; the rehearsal.json's are the
scenario's and are not used.`,
	}
	takesArg(cmd, &opts.Runbook, func() error { return runRehearse(opts) })
	opts.Vars.register(cmd.Flags())
	cmd.Flags().StringVar(&opts.Scenario, "scenario", "", "lab scenario to start from (default: the runbook's own)")
	cmd.Flags().StringVar(&opts.Snapshot, "snapshot", "", "start from a snapshot of a tenant (rebind snapshot -o FILE) instead of a scenario")
	cmd.Flags().BoolVar(&opts.Keep, "keep", false, "keep the rehearsal's folder (files it wrote, its journal) and print where it is")
	opts.Progress.register(cmd.Flags())
	return cmd
}

func runRehearse(opts *rehearseOptions) error {
	ios := opts.IO
	if rb, diags := loadRunbook(opts.Runbook); diags.HasErrors() {
		printDiags(ios, rb, diags)
		return errReported
	}
	if opts.Snapshot != "" && opts.Scenario != "" {
		return usageError{fmt.Errorf("rehearse takes --scenario or --snapshot, not both")}
	}
	reh, err := readRehearsal(opts.Runbook)
	if err != nil {
		return err
	}
	if opts.Scenario != "" {
		reh.Scenario = opts.Scenario
	}
	if opts.Snapshot != "" {
		// The rehearsal's own inputs name the scenario's objects, not
		// the snapshot's.
		reh.Scenario, reh.Vars = "", nil
	}
	if reh.Scenario == "" && opts.Snapshot == "" {
		return usageError{fmt.Errorf("the runbook %s names no lab scenario (rehearsal.json); give one with --scenario (rebind lab scenarios lists them)", opts.Runbook)}
	}
	vars := varFlags{files: opts.Vars.files}
	keys := slices.Sorted(maps.Keys(reh.Vars))
	for _, k := range keys {
		vars.vars = append(vars.vars, k+"="+reh.Vars[k])
	}
	vars.vars = append(vars.vars, opts.Vars.vars...) // given on the command line: they win

	in, err := instance.Start(instance.Options{Scenario: reh.Scenario, Snapshot: opts.Snapshot, Scenarios: lab.ScenarioFiles, Server: opts.labServer})
	if err != nil {
		return err
	}
	defer in.Close()
	var before bytes.Buffer
	if err := in.Tenant.Save(&before); err != nil {
		return err
	}
	source := fmt.Sprintf("scenario %q", reh.Scenario)
	if opts.Snapshot != "" {
		source = fmt.Sprintf("snapshot %s", safe(opts.Snapshot))
	}
	fmt.Fprintf(ios.Err, "Lab tenant started from %s at %s.\n", source, in.URL)
	if d := in.Tenant.Description(); d != "" {
		fmt.Fprintf(ios.Err, "  %s\n", d)
	}
	fmt.Fprintln(ios.Err)

	g := *opts.G
	g.Lab = in.URL
	// The rehearsal works in a folder of its own: files a runbook writes
	// (baselines, exports) and the journal land there, not where the admin
	// stands.
	dir, err := os.MkdirTemp("", "rebind-rehearsal-")
	if err != nil {
		return err
	}
	if !opts.Keep {
		defer os.RemoveAll(dir)
	}
	g.StateDir = filepath.Join(dir, ".rebind")
	g.workDir = dir

	p, err := makePlan(ios, &g, opts.Runbook, vars, engine.PlanOptions{})
	if err != nil {
		return err
	}
	if err := plan.RenderText(ios.Out, p, plan.TextOptions{Color: ios.Color(ios.Out)}); err != nil {
		return err
	}
	if n := p.RequiredApprovals(); n > 0 {
		fmt.Fprintf(ios.Out, "In the lab the %d approval%s the plan needs %s not asked for; against a real tenant %s.\n",
			n, plural(n), map[bool]string{true: "is", false: "are"}[n == 1], map[bool]string{true: "it is", false: "they are"}[n == 1])
	}
	fmt.Fprintln(ios.Out)
	in2, err := vars.inputs()
	if err != nil {
		return err
	}
	store, err := journal.Open(g.StateDir)
	if err != nil {
		return err
	}
	defer store.Close()
	ctx, cancel := signalContext()
	defer cancel()
	e, err := newEngine(ios, &g, store)
	if err != nil {
		return err
	}
	stop := opts.Progress.attach(ios, e)
	rep, diags := e.Apply(ctx, p, in2, engine.ApplyOptions{Rehearsal: true})
	// A rehearsal goes through the runbook's approve gates: the lab holds
	// no data anyone must keep. The go-ahead is journaled like a person's,
	// by "rebind rehearse", and said out loud.
	for !diags.HasErrors() && rep.Status == journal.StatusPaused && rep.PausedAt != "" {
		fmt.Fprintf(ios.Out, "\nThe run paused at %s. Against a real tenant a person would check and run `rebind approve-step`; in the lab, rehearse records the go-ahead itself and resumes.\n", rep.PausedAt)
		if err := store.ApproveStep(ctx, rep.RunID, rep.PausedAt, "rebind rehearse"); err != nil {
			return err
		}
		rep, diags = e.Resume(ctx, rep.RunID, in2, engine.ResumeOptions{})
	}
	stop()
	printDiags(ios, nil, diags)
	if diags.HasErrors() {
		return errReported
	}
	printReport(ios, rep)

	var after bytes.Buffer
	if err := in.Tenant.Save(&after); err != nil {
		return err
	}
	changes, err := statediff.Diff(before.Bytes(), after.Bytes())
	if err != nil {
		return err
	}
	fmt.Fprintf(ios.Out, "\nWhat changed in the lab (%d objects):\n", len(changes))
	for _, c := range changes {
		fmt.Fprintf(ios.Out, "  %-16s %-8s %s\n", safe(c.Directory), safe(c.Kind), safe(c.Object))
		for _, a := range c.Attributes {
			fmt.Fprintf(ios.Out, "      %s\n", safe(a))
		}
	}
	if opts.Keep {
		fmt.Fprintf(ios.Out, "\nThe rehearsal's folder is kept: %s (journal: rebind --state-dir %s runs show %s)\n", dir, g.StateDir, rep.RunID)
	}
	if err := reportErr(rep); err != nil {
		ended := string(rep.Status)
		if rep.Refused() {
			ended = "refused" // no run was created: objects changed since the plan
		}
		fmt.Fprintf(ios.Out, "\nRehearsal FAILED: the run of %s against %s ended %s.\n", p.Runbook.Name, source, ended)
		return err
	}
	fmt.Fprintf(ios.Out, "\nRehearsal succeeded: %s ran to the end against %s, every check it makes passed (%d changed, %d already so).\n",
		p.Runbook.Name, source, rep.Applied, rep.Unchanged)
	return nil
}
