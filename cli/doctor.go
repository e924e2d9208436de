package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/termtext"
)

type doctorOptions struct {
	IO      *IO
	G       *Globals
	Runbook string
	JSON    bool
	Timeout time.Duration
}

func newDoctorCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &doctorOptions{IO: ios, G: g}
	cmd := &cobra.Command{
		Use:   "doctor [RUNBOOK]",
		Short: "Check the environment's targets: reachability, TLS, sign-in, and the permissions a runbook needs",
		Long: `Check every target of the environment (--env FILE or REBIND_ENV, or the lab
with --lab) without writing anything: that it is reachable, that its TLS
certificate chains to a trusted CA, names the host and is not about to expire,
that the credential signs in, and, given a runbook, that the credential holds
what the runbook's steps declare they need (rebind permissions RUNBOOK).

Each check is shown with ✓ (passed), ✗ (missing or broken, with how to fix it),
! (works, but not for long: a certificate about to expire) or ? (rebind cannot
observe it from here, with what to verify by hand). The exit code is 1 when
any check failed.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Runbook = args[0]
			}
			return runDoctor(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the checks as JSON")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 2*time.Minute, "how long all checks may take together")
	return cmd
}

type doctorReport struct {
	Runbook     string        `json:"runbook,omitempty"`
	Environment string        `json:"environment,omitempty"`
	Lab         string        `json:"lab,omitempty"`
	OK          bool          `json:"ok"`
	Checks      []steps.Check `json:"checks"`
}

func runDoctor(opts *doctorOptions) error {
	ios, g := opts.IO, opts.G
	if g.Env == "" && g.Lab == "" {
		return usageError{errors.New("doctor checks an environment: give it with --env FILE (or REBIND_ENV), or --lab URL")}
	}
	env, err := loadEnv(ios, g)
	if err != nil {
		return err
	}
	e := &engine.Engine{Env: env}
	if err := bindLab(context.Background(), e, g.Lab, g.StateDir); err != nil {
		if errors.As(err, new(usageError)) {
			return err
		}
		// The lab could not be bound: that is doctor's first finding.
		rep := doctorReport{Lab: strings.TrimRight(g.Lab, "/"), Checks: []steps.Check{{Target: "lab", Name: "binding",
			State: steps.CheckFailed, Detail: err.Error(),
			Fix: "start the lab (rebind lab serve) and give its URL; from another process set REBIND_LAB_CA to the CA file `rebind lab serve --ca-file` wrote"}}}
		return writeDoctorReport(ios, opts, rep)
	}
	rep := doctorReport{Lab: e.Lab}
	if env != nil {
		rep.Environment = env.Path
	}
	var targets []engine.ResolvedTarget
	needs := map[string][]steps.Permission{}
	if opts.Runbook != "" {
		rb, diags := loadRunbook(opts.Runbook)
		if !diags.HasErrors() {
			// A runbook validate refuses would fail at plan whatever its
			// targets allow: doctor says so first.
			diags = append(diags, e.Validate(rb)...)
		}
		if !diags.HasErrors() {
			var d hcl.Diagnostics
			targets, d = e.ResolveTargets(rb)
			// Resolving binds the environment again: its warnings
			// (a target the runbook does not use) are Validate's.
			diags = appendNewDiags(diags, d)
		}
		printDiags(ios, rb, diags)
		if diags.HasErrors() {
			return errReported
		}
		rep.Runbook = rb.Meta.Name
		for _, n := range engine.Needs(rb) {
			if n.Target != "" && !slices.Contains(needs[n.Target], n.Permission) {
				needs[n.Target] = append(needs[n.Target], n.Permission)
			}
		}
		warnUnknownSettings(&rep, targets)
	} else {
		var diags hcl.Diagnostics
		targets, diags = e.EnvironmentTargets()
		printDiags(ios, nil, diags)
		if diags.HasErrors() {
			return errReported
		}
		if len(targets) == 0 {
			if env == nil {
				return usageError{errors.New("give a runbook: its targets are checked against the lab (rebind --lab URL doctor RUNBOOK)")}
			}
			return usageError{errors.New("the environment declares no targets, and no runbook was given")}
		}
	}
	ctx, cancel := signalContext()
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, opts.Timeout)
	defer cancelT()
	for _, t := range targets {
		key := t.Type + "." + t.Name
		tt, ok := steps.LookupTarget(t.Type)
		if !ok {
			continue
		}
		d, ok := tt.(steps.Doctor)
		var checks []steps.Check
		if !ok {
			checks = []steps.Check{steps.Unknown("checks", "rebind has no checks for targets of type "+t.Type, "")}
		} else {
			checks = d.Doctor(ctx, steps.DoctorRequest{Config: t.Config, Needs: needs[key]})
		}
		for _, c := range checks {
			c.Target = key
			rep.Checks = append(rep.Checks, c)
		}
	}
	return writeDoctorReport(ios, opts, rep)
}

// writeDoctorReport prints the report; it fails when a check failed.
func writeDoctorReport(ios *IO, opts *doctorOptions, rep doctorReport) error {
	rep.OK = true
	for _, c := range rep.Checks {
		if c.State == steps.CheckFailed {
			rep.OK = false
		}
	}
	if opts.JSON {
		if err := writeJSON(ios.Out, rep); err != nil {
			return err
		}
	} else {
		writeDoctor(ios.Out, rep)
	}
	if !rep.OK {
		return errReported
	}
	return nil
}

// warnUnknownSettings adds a failed check for a target setting that
// depends on a variable: doctor cannot know it.
func warnUnknownSettings(rep *doctorReport, targets []engine.ResolvedTarget) {
	for _, t := range targets {
		if !t.Config.Config.IsWhollyKnown() {
			rep.Checks = append(rep.Checks, steps.Check{Target: t.Type + "." + t.Name, Name: "settings", State: steps.CheckUnknown,
				Detail: "a setting of this target is built from a runbook variable, which doctor does not take",
				Fix:    "put the setting in the environment file"})
		}
	}
}

// appendNewDiags appends the diagnostics of more that diags does not
// already hold.
func appendNewDiags(diags, more hcl.Diagnostics) hcl.Diagnostics {
	same := func(a, b *hcl.Diagnostic) bool {
		if a.Severity != b.Severity || a.Summary != b.Summary || a.Detail != b.Detail || (a.Subject == nil) != (b.Subject == nil) {
			return false
		}
		return a.Subject == nil || *a.Subject == *b.Subject
	}
	for _, d := range more {
		seen := false
		for _, x := range diags {
			if same(x, d) {
				seen = true
				break
			}
		}
		if !seen {
			diags = append(diags, d)
		}
	}
	return diags
}

var stateMark = map[steps.CheckState]string{steps.CheckOK: "✓", steps.CheckFailed: "✗", steps.CheckUnknown: "?", steps.CheckWarning: "!"}

// writeDoctor prints the checks as a table, with a fix line under each ✗
// and ?.
func writeDoctor(w io.Writer, rep doctorReport) {
	what := "the lab at " + rep.Lab
	if rep.Environment != "" {
		what = "the environment " + rep.Environment
		if rep.Lab != "" {
			what += ", bound to the lab at " + rep.Lab
		}
	}
	if rep.Runbook != "" {
		fmt.Fprintf(w, "Checks of %s for the runbook %q:\n\n", termtext.Line(what), rep.Runbook)
	} else {
		fmt.Fprintf(w, "Checks of %s:\n\n", termtext.Line(what))
	}
	tw, cw := 0, 0
	for _, c := range rep.Checks {
		tw = max(tw, len(c.Target))
		cw = max(cw, len([]rune(c.Name)))
	}
	failed, unknown, warned := 0, 0, 0
	for _, c := range rep.Checks {
		fmt.Fprintf(w, "%s  %-*s  %-*s  %s\n", stateMark[c.State], tw, c.Target, cw, termtext.Line(c.Name), termtext.Line(c.Detail))
		if c.State != steps.CheckOK && c.Fix != "" {
			fmt.Fprintf(w, "   %*s  fix: %s\n", tw+cw+2, "", termtext.Line(c.Fix))
		}
		switch c.State {
		case steps.CheckFailed:
			failed++
		case steps.CheckUnknown:
			unknown++
		case steps.CheckWarning:
			warned++
		}
	}
	fmt.Fprintf(w, "\n%d checks: %d passed, %d failed, %d warnings, %d not observable from here.\n", len(rep.Checks), len(rep.Checks)-failed-unknown-warned, failed, warned, unknown)
}
