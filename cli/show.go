package cli

import (
	"bytes"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/engine/approval"
	"github.com/rebind-dev/rebind/engine/plan"
)

type showOptions struct {
	IO             *IO
	Path           string
	Format         string
	Redact         bool
	Full           bool
	JSON           bool
	AllowedSigners string
	Now            func() time.Time
}

func newShowCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &showOptions{IO: ios, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "show PLAN [--format text|json|markdown|html|digest] [--json] [--redact] [--full]",
		Short: "Render a saved plan for review",
		Long: `show renders a saved plan: text for a terminal, json, markdown for a pull
request comment, html for a self-contained page to open in a browser, or
digest for the bare digest that approvals sign.

--redact masks addresses (alice.smith@contoso.com -> a***@contoso.com),
the common names in distinguished names and name attributes; GUIDs and
immutable IDs stay, since checking them is the review. The digest shown is
the plan's own.

A plan of more than 100 instances (a fan-out over many users) is
summarised in text, markdown and html: the counts by action, the first 100
changes, and per step what is not listed (the instances already so, the
changes after the first 100). --full lists every instance; --json (the
same as --format json) gives the whole plan as JSON.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = args[0]
			if opts.JSON {
				if cmd.Flags().Changed("format") && opts.Format != "json" {
					return usageError{fmt.Errorf("--json and --format %s: give one", opts.Format)}
				}
				opts.Format = "json"
			}
			return runShow(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "text", "text, json, markdown, html or digest")
	cmd.Flags().BoolVar(&opts.Redact, "redact", false, "mask addresses and names (not with json)")
	cmd.Flags().BoolVar(&opts.Full, "full", false, "show every value whole and list every instance (text, markdown and html cut values at 200 characters and summarise plans of more than 100 instances)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "the whole plan as JSON (--format json)")
	cmd.Flags().StringVar(&opts.AllowedSigners, "allowed-signers", "", "verify the approvals shown by markdown and html against this file (env REBIND_ALLOWED_SIGNERS)")
	return cmd
}

func runShow(opts *showOptions) error {
	p, err := plan.Read(opts.Path)
	if err != nil {
		return err
	}
	if err := renderShow(opts, p); err != nil {
		return err
	}
	// A reviewer must know when what they read is not what rebind made:
	// said last, where a terminal leaves it in view.
	if _, err := approval.Consistent(p); err != nil {
		fmt.Fprintf(opts.IO.Err, "\nWARNING: do not approve this plan: %s\n", safeBlock(err.Error()))
		return errReported
	}
	return nil
}

// renderShow writes p in the format opts asks for.
func renderShow(opts *showOptions, p *plan.Plan) error {
	switch opts.Format {
	case "text":
		if !opts.Redact {
			return plan.RenderText(opts.IO.Out, p, plan.TextOptions{Color: opts.IO.Color(opts.IO.Out), Full: opts.Full, PlanFile: opts.Path})
		}
		// The text renderer prints the digest of the plan it is given:
		// put the real one back in place of the redacted copy's.
		r := plan.Redact(p)
		var buf bytes.Buffer
		if err := plan.RenderText(&buf, r, plan.TextOptions{Color: opts.IO.Color(opts.IO.Out), Full: opts.Full, PlanFile: opts.Path}); err != nil {
			return err
		}
		_, err := opts.IO.Out.Write(bytes.ReplaceAll(buf.Bytes(), []byte(r.Digest()), []byte(p.Digest())))
		return err
	case "json":
		if opts.Redact {
			return usageError{fmt.Errorf("--redact does not apply to --format json: a redacted plan is not the plan that was approved")}
		}
		return writeJSON(opts.IO.Out, p)
	case "digest":
		_, err := fmt.Fprintln(opts.IO.Out, p.Digest())
		return err
	case "markdown", "html":
		ro := plan.RenderOptions{Redact: opts.Redact, PlanFile: opts.Path, Full: opts.Full}
		allowed, err := loadAllowedSigners(opts.AllowedSigners)
		if err != nil {
			return err
		}
		if allowed != nil {
			ap, verr := plan.Verify(p, allowed, opts.Now())
			if verr != nil && !approval.OnlyTooFew(verr) {
				fmt.Fprintf(opts.IO.Err, "warning: signatures that do not hold are not counted:\n%s\n", indentErr(verr))
			}
			ro.Approval = &ap
		}
		if opts.Format == "markdown" {
			return plan.RenderMarkdown(opts.IO.Out, p, ro)
		}
		return plan.RenderHTML(opts.IO.Out, p, ro)
	}
	return usageError{fmt.Errorf("--format %q: want text, json, markdown, html or digest", opts.Format)}
}
