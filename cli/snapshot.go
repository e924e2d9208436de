package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/snapshot"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/entra"
	"github.com/rebind-dev/rebind/steps/exo"
)

type snapshotOptions struct {
	IO        *IO
	G         *Globals
	Out       string
	Redact    bool
	RedactKey string
	Timeout   time.Duration
}

func newSnapshotCmd(ios *IO, g *Globals) *cobra.Command {
	opts := &snapshotOptions{IO: ios, G: g}
	cmd := &cobra.Command{
		Use:   "snapshot [--env FILE] -o snap.json [--redact [--redact-key KEY]]",
		Short: "Read the tenant read-only into a file a lab tenant loads (a twin to rehearse on)",
		Long: `snapshot reads, read-only and through the public APIs only (Microsoft Graph,
the Exchange admin API, LDAP), the state rebind's runbooks depend on: users
including deleted ones, the organization and its domains, the directory
synchronisation switches, Exchange mailboxes and mail users including
soft-deleted ones and their holds, and AD users including Deleted Objects.
It reads in bulk (pages of 999 users, 1,000 recipients, 1,000 LDAP entries).
The targets are the environment's entra, exo and ad targets (--env), or
the lab's (--lab).

The file loads as a lab tenant: rebind lab serve --snapshot FILE, rebind
rehearse RUNBOOK --snapshot FILE; rebind diagnose --snapshot FILE analyses it.

--redact replaces names and addresses with keyed pseudonyms (HMAC-SHA256
under --redact-key, or a random key printed on stderr): the same name or
address becomes the same pseudonym in Entra ID, Exchange and AD, so every
relation stays. Keep the key to turn a name into its pseudonym for -var.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSnapshot(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Out, "out", "o", "", "file to write the snapshot to (required)")
	cmd.Flags().BoolVar(&opts.Redact, "redact", false, "replace names and addresses with keyed pseudonyms")
	cmd.Flags().StringVar(&opts.RedactKey, "redact-key", "", "the key of the pseudonyms (default: a random one, printed on stderr)")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 30*time.Minute, "give up after this long")
	return cmd
}

func runSnapshot(opts *snapshotOptions) error {
	if opts.Out == "" {
		return usageError{errors.New("snapshot needs -o FILE")}
	}
	if opts.RedactKey != "" && !opts.Redact {
		return usageError{errors.New("--redact-key is given without --redact")}
	}
	ctx, cancel := signalContext()
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, opts.Timeout)
	defer cancelT()
	start := time.Now()
	s, err := takeSnapshot(ctx, opts.IO, opts.G)
	if err != nil {
		return err
	}
	took := time.Since(start)
	if opts.Redact {
		key := []byte(opts.RedactKey)
		if len(key) == 0 {
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return err
			}
			key = []byte(hex.EncodeToString(b))
			fmt.Fprintf(opts.IO.Err, "Redaction key (keep it to map names to pseudonyms; rebind does not store it): %s\n", key)
		}
		snapshot.NewRedactor(key).Apply(s)
	}
	if err := s.WriteFile(opts.Out); err != nil {
		return err
	}
	writeSnapshotSummary(opts.IO.Err, s, took)
	fmt.Fprintf(opts.IO.Out, "Snapshot written to %s: %d users, %d recipients, %d AD users.\n", safe(opts.Out), len(s.Users), len(s.Recipients), len(s.AD.Users))
	return nil
}

func writeSnapshotSummary(w io.Writer, s *snapshot.Snapshot, took time.Duration) {
	total := 0
	for _, r := range s.Reads {
		total += r.Requests
	}
	fmt.Fprintf(w, "Read in %s, %d requests:\n", took.Round(time.Millisecond), total)
	for _, r := range s.Reads {
		line := fmt.Sprintf("  %-8s %-62s %6d requests %7d objects %9s", r.API, safe(r.What), r.Requests, r.Objects, time.Duration(r.Took))
		if r.Error != "" {
			line += "  (refused: " + safe(r.Error) + ")"
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w, "Permissions used:")
	for _, p := range s.Permissions {
		fmt.Fprintf(w, "  %s\n", p)
	}
	if len(s.NotRead) > 0 {
		fmt.Fprintln(w, "Not in the snapshot:")
		for _, n := range s.NotRead {
			fmt.Fprintf(w, "  %s\n", safe(n))
		}
	}
}

// countingTransport counts the requests sent through it.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	next := c.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(r)
}

// takeSnapshot opens the environment's (or the lab's) entra, exo and ad
// targets, read-only, and takes a snapshot through them.
func takeSnapshot(ctx context.Context, ios *IO, g *Globals) (*snapshot.Snapshot, error) {
	if g.Env == "" && g.Lab == "" {
		return nil, usageError{errors.New("give the tenant to read: --env FILE (its entra, exo and ad targets) or --lab URL")}
	}
	env, err := loadEnv(ios, g)
	if err != nil {
		return nil, err
	}
	var targets []engine.ResolvedTarget
	if g.Lab != "" {
		if env != nil {
			return nil, usageError{fmt.Errorf("--lab and --env (or REBIND_ENV) both given: give one")}
		}
		// The lab's entra, exo and ad targets, bound as an environment
		// (lab/control.Bind): opened by the code that opens a tenant's.
		b, err := control.Bind(ctx, strings.TrimRight(g.Lab, "/"), filepath.Join(g.StateDir, "lab"), nil)
		if err != nil {
			return nil, err
		}
		for _, typ := range []string{"entra", "exo", "ad"} {
			cfg, err := b.TargetConfig(typ, "lab", nil)
			if err != nil {
				return nil, err
			}
			targets = append(targets, engine.ResolvedTarget{Type: typ, Name: "lab", Config: cfg})
		}
	} else {
		e := &engine.Engine{Env: env}
		ts, d := e.EnvironmentTargets()
		printDiags(ios, nil, d)
		if d.HasErrors() {
			return nil, errReported
		}
		targets = ts
	}
	byType := map[string]engine.ResolvedTarget{}
	for _, t := range targets {
		if t.Type != "entra" && t.Type != "exo" && t.Type != "ad" {
			continue
		}
		if prev, dup := byType[t.Type]; dup {
			return nil, usageError{fmt.Errorf("the environment declares two %s targets (%s and %s); a snapshot reads one tenant: give an environment with one of each", t.Type, prev.Name, t.Name)}
		}
		byType[t.Type] = t
	}
	var src snapshot.Sources
	src.IsForbidden = entra.IsForbidden
	open := func(typ string) (any, error) {
		t, ok := byType[typ]
		if !ok {
			return nil, nil
		}
		tt, ok := steps.LookupTarget(typ)
		if !ok {
			return nil, fmt.Errorf("no target type %q", typ)
		}
		c, err := tt.Open(ctx, t.Config)
		if err != nil {
			return nil, fmt.Errorf("target %s.%s: %w", typ, t.Name, err)
		}
		return c, nil
	}
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	if c, err := open("entra"); err != nil {
		return nil, err
	} else if c != nil {
		ec := c.(*entra.Client)
		closers = append(closers, ec)
		src.Graph = ec
	}
	if c, err := open("exo"); err != nil {
		return nil, err
	} else if c != nil {
		xc := c.(*exo.Client)
		hc := *http.DefaultClient
		if xc.HTTP != nil {
			hc = *xc.HTTP
		}
		ct := &countingTransport{next: hc.Transport}
		hc.Transport = ct
		xc.HTTP = &hc
		src.Exchange = xc
		src.ExchangeRequests = func() int { return int(ct.n.Load()) }
	}
	if c, err := open("ad"); err != nil {
		return nil, err
	} else if c != nil {
		d, ok := c.(snapshot.Directory)
		if !ok {
			return nil, fmt.Errorf("the ad target is not an LDAP directory (%T)", c)
		}
		if cl, ok := c.(io.Closer); ok {
			closers = append(closers, cl)
		}
		src.AD = d
	}
	if src.Graph == nil && src.Exchange == nil && src.AD == nil {
		return nil, usageError{errors.New("the environment declares no entra, exo or ad target")}
	}
	return snapshot.Take(ctx, src)
}
