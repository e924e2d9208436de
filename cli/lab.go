package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/lab/instance"
	"github.com/rebind-dev/rebind/lab/labhttp"
	"github.com/rebind-dev/rebind/termtext"
)

// newLabCmd is `rebind lab ...`: run and steer the lab tenant.
func newLabCmd(ios *IO, g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run and steer the lab tenant (AD + Entra ID + Exchange Online + sync)",
		Long: `The lab tenant models Active Directory, Entra ID, Exchange Online and the
Entra Connect sync engine, with a virtual clock, and serves their real
protocols on loopback: Microsoft Graph v1.0, the Exchange admin API and LDAP.
Bind a runbook's targets to it with --lab URL (or REBIND_LAB) to rehearse it.`,
	}
	cmd.AddCommand(newLabServeCmd(ios), newLabScenariosCmd(ios),
		newLabControlCmd(ios, g, "sync", "Run a sync cycle (--policy Delta|Initial)"),
		newLabControlCmd(ios, g, "clock", "Advance the virtual clock (--advance 72h)"),
		newLabControlCmd(ios, g, "dump", "Print the whole lab state as JSON"))
	return cmd
}

type labServeOptions struct {
	IO         *IO
	Scenario   string
	Snapshot   string
	Listen     string
	LDAPListen string
	State      string
	ReadUnits  int
	WriteUnits int
	CAFile     string
	EnvFile    string
	PlainHTTP  bool
	// ready, when set, receives the instance once it serves (tests).
	ready func(*instance.Instance)
	stop  <-chan struct{}
}

func newLabServeCmd(ios *IO) *cobra.Command {
	opts := &labServeOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "serve --scenario NAME | --snapshot FILE [--listen ADDR] [--state FILE]",
		Short: "Serve a lab tenant until interrupted",
		Long: `serve loads a scenario (or the state file, when it exists) and serves the
lab until Ctrl-C. It prints the lab's URL on the first line of standard output.
With --state the tenant's state survives restarts. With --snapshot it serves
a twin of the tenant a snapshot read (rebind snapshot).

The lab serves HTTPS (Graph, Exchange, the token endpoint, the control API)
and LDAPS with a certificate from a CA it creates at start. It prints the CA
on standard error and, with --ca-file, writes it there: point REBIND_LAB_CA
(or any other client's trust store) at that file. Tokens come from the lab's
token endpoint (GET /lab/endpoints names it, with the default app's client
id and secret).

With --env-file it writes an environment file binding the bundled runbooks'
targets to the lab (and the lab's CA beside it), and prints the variables
that hold the lab's credentials: rebind --env FILE then reaches the lab as it
reaches a tenant (docs/setup.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runLabServe(opts) },
	}
	cmd.Flags().StringVar(&opts.Scenario, "scenario", "", "scenario to start from (rebind lab scenarios)")
	cmd.Flags().StringVar(&opts.Snapshot, "snapshot", "", "start from a snapshot file (rebind snapshot -o FILE) instead of a scenario")
	cmd.Flags().StringVar(&opts.Listen, "listen", "127.0.0.1:0", "HTTP address (loopback only)")
	cmd.Flags().StringVar(&opts.LDAPListen, "ldap-listen", "127.0.0.1:0", "LDAP address (loopback only)")
	cmd.Flags().StringVar(&opts.State, "state", "", "keep the tenant's state in this file across restarts")
	cmd.Flags().IntVar(&opts.ReadUnits, "read-units", 0, "Graph resource units per 10 s before 429 (default: Graph's limit for the tenant's size)")
	cmd.Flags().IntVar(&opts.WriteUnits, "write-units", 0, "Graph writes per 150 s before 429 (default 3000)")
	cmd.Flags().StringVar(&opts.CAFile, "ca-file", "", "write the lab's CA certificate (PEM) to this file, for REBIND_LAB_CA")
	cmd.Flags().StringVar(&opts.EnvFile, "env-file", "", "write an environment file binding the bundled runbooks' targets to this lab, for --env FILE (docs/setup.md)")
	cmd.Flags().BoolVar(&opts.PlainHTTP, "plain-http", false, "serve HTTP without TLS (http://), for a client that cannot be given the CA")
	return cmd
}

func runLabServe(opts *labServeOptions) error {
	if opts.Scenario == "" && opts.State == "" && opts.Snapshot == "" {
		return usageError{fmt.Errorf("lab serve needs --scenario NAME, --snapshot FILE or --state FILE")}
	}
	if opts.Scenario != "" && opts.Snapshot != "" {
		return usageError{fmt.Errorf("lab serve takes --scenario or --snapshot, not both")}
	}
	in, err := instance.Start(instance.Options{
		Scenario: opts.Scenario, Snapshot: opts.Snapshot, Scenarios: lab.ScenarioFiles, StatePath: opts.State,
		Listen: opts.Listen, LDAPListen: opts.LDAPListen, PlainHTTP: opts.PlainHTTP, CAFile: opts.CAFile,
		Server: labhttp.ServerOptions{ReadUnits: opts.ReadUnits, WriteUnits: opts.WriteUnits},
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.Out, in.URL)
	fmt.Fprintf(opts.IO.Err, "Lab tenant serving Graph at %s/v1.0, LDAP at %s and %s.\nUse it with: --lab %s (or REBIND_LAB=%s). Ctrl-C stops it.\n", in.URL, in.LDAPURL, in.LDAPSURL, in.URL, in.URL)
	if opts.CAFile != "" {
		fmt.Fprintf(opts.IO.Err, "Its CA is in %s: set REBIND_LAB_CA=%s.\n", opts.CAFile, opts.CAFile)
	}
	fmt.Fprintf(opts.IO.Err, "Lab CA (trust it to verify the lab's HTTPS and LDAPS):\n%s", in.CAPEM)
	if d := in.Tenant.Description(); d != "" {
		fmt.Fprintf(opts.IO.Err, "Scenario: %s\n", d)
	}
	if opts.EnvFile != "" {
		if err := writeLabEnvironment(in, opts.EnvFile, opts.IO.Err); err != nil {
			in.Close()
			return err
		}
	}
	if opts.ready != nil {
		opts.ready(in)
	}
	ctx, cancel := signalContext()
	defer cancel()
	select {
	case <-ctx.Done():
	case <-opts.stop:
	}
	return in.Close()
}

func newLabScenariosCmd(ios *IO) *cobra.Command {
	return &cobra.Command{
		Use:   "scenarios",
		Short: "List the lab's scenarios",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			names, err := lab.Scenarios(lab.ScenarioFiles)
			if err != nil {
				return err
			}
			for _, n := range names {
				desc := ""
				if t, err := lab.LoadScenario(lab.ScenarioFiles, n); err == nil {
					desc = firstSentence(t.Description())
				}
				fmt.Fprintf(ios.Out, "%-24s %s\n", n, desc)
			}
			return nil
		},
	}
}

// newLabControlCmd is one of the commands that steer a running lab over
// its control API.
func newLabControlCmd(ios *IO, g *Globals, verb, short string) *cobra.Command {
	var policy, advance string
	cmd := &cobra.Command{
		Use:   verb,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.Lab == "" {
				return usageError{fmt.Errorf("lab %s needs --lab URL or REBIND_LAB", verb)}
			}
			l, err := control.Dial(g.Lab, nil)
			if err != nil {
				return err
			}
			ctx := context.Background()
			var body []byte
			switch verb {
			case "sync":
				_, body, err = l.Sync(ctx, policy)
			case "clock":
				if advance == "" {
					body, err = l.Clock(ctx)
				} else {
					d, perr := time.ParseDuration(advance)
					if perr != nil {
						return usageError{fmt.Errorf("--advance %q: %v", advance, perr)}
					}
					body, err = l.Advance(ctx, d)
				}
			case "dump":
				body, err = l.Dump(ctx)
			}
			if errors.Is(err, control.ErrSyncOff) {
				return fmt.Errorf("lab sync: %w", err)
			}
			if err != nil {
				return err
			}
			var pretty bytes.Buffer
			if json.Indent(&pretty, body, "", "  ") == nil {
				body = termtext.JSON(pretty.Bytes())
			} else {
				body = []byte(termtext.Block(string(body)))
			}
			// The lab's objects hold whatever runbooks wrote to them.
			_, err = fmt.Fprintln(ios.Out, strings.TrimSpace(string(body)))
			return err
		},
	}
	switch verb {
	case "sync":
		cmd.Flags().StringVar(&policy, "policy", "Delta", "Delta or Initial")
	case "clock":
		cmd.Flags().StringVar(&advance, "advance", "", "how far to move the virtual clock, e.g. 72h")
	}
	return cmd
}
