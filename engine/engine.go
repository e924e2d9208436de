// Package engine runs rebind runbooks: it plans them against the live
// directories (or the lab tenant), applies a plan with a durable journal,
// resumes an interrupted run, and rolls completed steps back.
//
// A run moves through the steps in file order. For each step instance the
// engine observes the object, checks preconditions, computes the change,
// makes the intent durable in the journal, applies it, records the outcome
// and checks postconditions. Because most steps are desired state, resuming
// after a crash is safe: an instance whose intent has no outcome is "in
// doubt", and the engine observes it again to decide whether it is already
// done or must be applied again. Actions that cannot be observed and are
// not safe to repeat stop the resume and ask a person.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/environment"
	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/lang"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/termtext"
)

// Engine plans and runs runbooks. The zero value plans; applying needs a
// Store.
type Engine struct {
	// Store is the run journal. Required for Apply, Resume and Rollback;
	// when set for Plan, a plan that would write an object another run
	// holds is refused.
	Store journal.Journal
	// Lab, when not "", binds every target to the lab tenant at this URL.
	Lab string
	// Env is the environment the runbook's targets are found in (--env),
	// nil when none was given: the runbook's target blocks then say
	// everything, or a lab supplies the endpoints.
	Env *environment.Environment
	// Getenv reads the environment; os.Getenv when nil.
	Getenv func(string) string
	// Log receives progress lines for people; discarded when nil.
	Log io.Writer
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// WorkDir is where relative paths in step arguments resolve; the
	// current directory when "".
	WorkDir string
	// PollInterval is how often `await` observes again; 5 s when zero.
	PollInterval time.Duration
	// DefaultConcurrency is the fan-out width when a step sets no
	// max_concurrency; 4 when zero.
	DefaultConcurrency int
	// Key is the state directory's secret key (journal.StateKey):
	// fingerprints and labels of sensitive values are HMACs under it, never
	// plain hashes a reader could guess a secret against. When nil, a
	// random key is made for this Engine, and a plan that holds a
	// sensitive value can then be applied only by this Engine.
	Key     []byte
	keyOnce sync.Once
	// logw is Log behind a lock, made by the first call of log.
	logw *lockedWriter

	// Sleep waits between the polls of an `await`. Nil sleeps in real
	// time; a rehearsal against the lab tenant passes virtual time instead,
	// so a 72-hour wait takes no real time.
	Sleep func(ctx context.Context, d time.Duration) error
}

// sleep waits d, or until ctx ends.
func (e *Engine) sleep(ctx context.Context, d time.Duration) error {
	if e.Sleep != nil {
		return e.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Errors the CLI tells apart.
var (
	// ErrDrift is wrapped when objects changed since the plan was made.
	ErrDrift = errors.New("engine: objects changed since the plan was made")
	// ErrFailed is wrapped when a run ended in failure.
	ErrFailed = errors.New("engine: run failed")
	// ErrInDoubt is wrapped when a resume meets an action that was in doubt
	// and is not safe to repeat.
	ErrInDoubt = errors.New("engine: action in doubt")
)

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// log is where progress lines go. Fan-out instances write from many
// goroutines, so every write goes through one lock (a caller's writer need
// not be safe for concurrent use, and lines must not interleave). Progress
// lines quote addresses, object names and what directories answered, and
// steps write to this log too: every control and bidi character in them
// is shown as an escape (termtext.Writer), so none reaches a terminal.
func (e *Engine) log() io.Writer {
	if e.Log == nil {
		return io.Discard
	}
	if e.logw == nil {
		// Set up before any goroutine of a run starts: newSession calls log
		// first.
		e.logw = &lockedWriter{w: termtext.Writer(e.Log)}
	}
	return e.logw
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// maxLogText is how many characters of a quoted string or error a
// progress line shows.
const maxLogText = 2000

// logf writes a progress line. The strings, errors and Stringers it quotes
// are kept on the line (a newline in an error would forge a line of its
// own) and cut when long (termtext).
func (e *Engine) logf(format string, args ...any) {
	for i, a := range args {
		switch v := a.(type) {
		case string:
			args[i] = termtext.Line(termtext.Clip(v, maxLogText))
		case error:
			args[i] = termtext.Line(termtext.Clip(v.Error(), maxLogText))
		case fmt.Stringer:
			args[i] = termtext.Line(termtext.Clip(v.String(), maxLogText))
		}
	}
	fmt.Fprintf(e.log(), format, args...)
}

func (e *Engine) workDir() string {
	if e.WorkDir != "" {
		return e.WorkDir
	}
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	return wd
}

func (e *Engine) pollInterval() time.Duration {
	if e.PollInterval > 0 {
		return e.PollInterval
	}
	return 5 * time.Second
}

// Validate checks a runbook without observing anything: step and target
// types exist, every argument decodes against its schema (with variables
// not given treated as unknown), references are in order.
func (e *Engine) Validate(rb *runbook.Runbook) hcl.Diagnostics {
	// Variables with a default take it; the others are unknown, so that
	// whatever depends on them is checked at plan.
	typed := map[string]cty.Value{}
	for _, v := range rb.Variables {
		if v.Default != cty.NilVal {
			continue
		}
		ty := v.Type
		if ty == cty.NilType {
			ty = cty.DynamicPseudoType
		}
		typed[v.Name] = cty.UnknownVal(ty)
	}
	// Validation must not need the environment or secrets.
	e2 := &Engine{Lab: e.Lab, Env: e.Env, Log: e.Log, Now: e.Now, WorkDir: e.WorkDir, Key: e.Key,
		Getenv: func(string) string { return "" }}
	s, diags := e2.newSession(rb, Inputs{Typed: typed}, e.workDir())
	if diags.HasErrors() {
		return diags
	}
	s.validating = true
	diags = append(diags, s.evalEarly(context.Background(), func(d *runbook.Step) hcl.Diagnostics {
		_, dd := s.decode(d, s.sc.ctx())
		s.sc.setData(d.Type, d.Name, cty.DynamicVal)
		return dd
	})...)
	if diags.HasErrors() {
		return diags
	}
	for _, st := range s.rb.Steps {
		each := cty.NilVal
		if st.ForEach != nil {
			each = cty.ObjectVal(map[string]cty.Value{"key": cty.UnknownVal(cty.String), "value": cty.DynamicVal})
		}
		_, d := s.decode(st, s.sc.child(each, cty.NilVal))
		diags = append(diags, d...)
		diags = append(diags, s.checkMeta(st)...)
		if st.ForEach != nil {
			if v, d := st.ForEach.Value(s.sc.ctx()); !d.HasErrors() && sensitiveKeys(v) {
				diags = append(diags, sensitiveForEach(st))
			}
		}
	}
	return s.secrets.scrubDiags(diags)
}

// retryPolicy is a step's `retry {}`: the number of attempts and the first
// backoff, doubled each time. Permanent errors are never retried; a
// Retry-After hint lengthens the wait.
type retryPolicy struct {
	attempts int
	backoff  time.Duration
}

func (s *session) retryPolicy(st *runbook.Step) (retryPolicy, hcl.Diagnostics) {
	p := retryPolicy{attempts: 1, backoff: time.Second}
	if st.Retry == nil {
		return p, nil
	}
	var diags hcl.Diagnostics
	if st.Retry.Attempts != nil {
		v, d := st.Retry.Attempts.Value(s.sc.ctx())
		diags = append(diags, d...)
		if !d.HasErrors() {
			v, _ = v.Unmark()
			var n int
			if v.IsKnown() && !v.IsNull() && v.Type() == cty.Number && v.AsBigFloat().IsInt() {
				i, _ := v.AsBigFloat().Int64()
				n = int(i)
			}
			if n < 1 || n > 100 {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid retry attempts",
					Detail: "retry.attempts must be a whole number from 1 to 100 (the first try included).", Subject: st.Retry.Attempts.Range().Ptr()})
			} else {
				p.attempts = n
			}
		}
	}
	if st.Retry.Backoff != nil {
		d, dd := lang.ParseDuration(s.sc.ctx(), st.Retry.Backoff, "retry.backoff")
		diags = append(diags, dd...)
		if !dd.HasErrors() {
			p.backoff = d
		}
	}
	return p, diags
}

// do runs fn until it succeeds, fails permanently, or attempts run out.
func (p retryPolicy) do(ctx context.Context, fn func(context.Context) error) error {
	wait := p.backoff
	var err error
	for i := 0; i < p.attempts; i++ {
		if err = fn(ctx); err == nil || steps.IsPermanent(err) || errors.Is(err, steps.ErrPaused) {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		if i == p.attempts-1 {
			break
		}
		d := wait
		var ra *steps.RetryAfterError
		if errors.As(err, &ra) && ra.After > d {
			d = ra.After
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
	if p.attempts > 1 {
		return fmt.Errorf("after %d attempts: %w", p.attempts, err)
	}
	return err
}

// runContext is the steps.RunContext handed to step types.
type runContext struct {
	s *session
}

func (r *runContext) ID() string  { return r.s.runID }
func (r *runContext) Dir() string { return r.s.dir }

func (r *runContext) StepApproval(ctx context.Context, address string) (bool, string, error) {
	if r.s.e.Store == nil || r.s.runID == "" {
		return false, "", nil
	}
	return r.s.e.Store.StepApproval(ctx, r.s.runID, address)
}
