package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/diagnose"
	"github.com/rebind-dev/rebind/snapshot"
)

type diagnoseOptions struct {
	IO       *IO
	G        *Globals
	Snapshot string
	JSON     bool
	Markdown bool
	VarDir   string
	Timeout  time.Duration
}

func newDiagnoseCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &diagnoseOptions{IO: ios, G: g}
	cmd := &cobra.Command{
		Use:   "diagnose [--env FILE | --snapshot FILE] [--json | --markdown] [--var-dir DIR]",
		Short: "Find the problems the bundled runbooks fix, read-only, and propose each runbook with its variables",
		Long: `diagnose reads the tenant read-only (as rebind snapshot does, in memory), or
a snapshot file offline (--snapshot), and recognises the failure signatures
of the bundled runbooks' field reports: a cloud user restored by mistake
beside a new AD account (restore-mistake), synced users whose anchors name no
AD object (rebuilt-ad-hard-match, offboard-relink), Exchange provisioning
errors naming ArchiveGuid or a GUID another recipient holds
(archive-guid-mismatch, exchange-guid-in-use), and cloud users duplicate
attribute resiliency created. For each: the objects, the evidence, the
runbook with a ready -var-file (--var-dir writes them), and what would make
the runbook refuse. It never writes to the tenant, and lists the reads and
permissions it used.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runDiagnose(opts) },
	}
	cmd.Flags().StringVar(&opts.Snapshot, "snapshot", "", "analyse this snapshot file (rebind snapshot -o FILE) instead of reading the tenant")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "write the report as JSON")
	cmd.Flags().BoolVar(&opts.Markdown, "markdown", false, "write the report as Markdown")
	cmd.Flags().StringVar(&opts.VarDir, "var-dir", "", "write each finding's -var-file into this folder")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 30*time.Minute, "give up reading after this long")
	return cmd
}

func runDiagnose(opts *diagnoseOptions) error {
	if opts.JSON && opts.Markdown {
		return usageError{errors.New("give --json or --markdown, not both")}
	}
	var s *snapshot.Snapshot
	var err error
	if opts.Snapshot != "" {
		if opts.G.Env != "" || opts.G.Lab != "" {
			return usageError{errors.New("--snapshot reads a file: it takes no --env or --lab")}
		}
		s, err = snapshot.ReadFile(opts.Snapshot)
	} else {
		ctx, cancel := signalContext()
		defer cancel()
		ctx, cancelT := context.WithTimeout(ctx, opts.Timeout)
		defer cancelT()
		if opts.G.Env == "" && opts.G.Lab == "" {
			return usageError{errors.New("give the tenant to read (--env FILE or --lab URL), or a snapshot (--snapshot FILE)")}
		}
		s, err = takeSnapshot(ctx, opts.IO, opts.G)
	}
	if err != nil {
		return err
	}
	rep := diagnose.Analyze(s)
	var paths []string
	if opts.VarDir != "" {
		if paths, err = rep.WriteVarFiles(opts.VarDir); err != nil {
			return fmt.Errorf("diagnose: --var-dir: %w", err)
		}
	}
	switch {
	case opts.JSON:
		return writeJSON(opts.IO.Out, rep)
	case opts.Markdown:
		rep.WriteMarkdown(opts.IO.Out)
	default:
		rep.WriteText(opts.IO.Out, paths)
	}
	return nil
}
