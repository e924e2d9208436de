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
	"io"
	"os"
	"sync"
	"time"

	"github.com/rebind-dev/rebind/engine/environment"
	"github.com/rebind-dev/rebind/engine/journal"
)

// Engine plans and runs runbooks. The zero value plans; applying needs a
// Store.
type Engine struct {
	// Store is the run journal. Required for Apply, Resume and Rollback;
	// when set for Plan, a plan that would write an object another run
	// holds is refused.
	Store journal.Journal
	// Lab, when not "", is the URL of the lab tenant the run is bound to
	// (--lab): plans record it and apply refuses a plan made elsewhere. The
	// targets never see it: Bind gives them the lab's settings as an
	// environment.
	Lab string
	// Env is the environment the runbook's targets are found in (--env),
	// nil when none was given: the runbook's target blocks then say
	// everything.
	Env *environment.Environment
	// Bind, when set, supplies the environment of the targets a runbook
	// declares (by "TYPE.NAME") instead of Env: `rebind --lab` binds
	// every target to the lab so.
	Bind func(keys []string) (*environment.Environment, error)
	// Getenv reads the environment; os.Getenv when nil.
	Getenv func(string) string
	// Log receives progress lines for people; discarded when nil.
	Log io.Writer
	// Verbose prints a line for every instance of a fan-out as it is
	// written and done; without it, a fan-out's instances are only counted
	// in Events, and the report names the failed ones.
	Verbose bool
	// Events, when set, receives each step's start and end and the end of
	// each of its instances (see Event), from many goroutines at once: the
	// command line draws its progress from them.
	Events func(Event)
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

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
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
