// Package journal is rebind's durable run journal: every run, every step's
// intent and outcome, the locks on target objects and the step approvals, kept
// in one SQLite database (journal.db) in the state directory.
//
// The engine's rule is that before a write leaves the process its intent is
// durable, and after the write returns its outcome becomes durable. An outcome
// lost in a crash only leaves the step in doubt (the engine observes the object
// again on resume), so outcomes may be appended lazily: they ride in the same
// transaction, and the same fsync, as the next durable record. Concurrent
// durable appends are group-committed: whatever is pending when the committer
// is free goes into one transaction, so a fan-out of fifty steps costs a few
// fsyncs, not fifty.
//
// Several processes may open the same journal at once (SQLite serialises
// their writes); Claim keeps two processes from working one run at a time, and
// Lock keeps two runs from touching one object at a time.
package journal

import (
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is returned when a run id (or prefix) names no run.
var ErrNotFound = errors.New("journal: no such run")

// ErrAmbiguous is returned by Run when a prefix matches more than one run.
var ErrAmbiguous = errors.New("journal: ambiguous run id prefix")

// ErrRunExists is returned by CreateRun when the caller-chosen id is taken.
var ErrRunExists = errors.New("journal: run id already exists")

// ErrPlanApplied is returned by CreateRun when a run was already created for
// the same plan digest: a saved plan is applied once; an interrupted apply is
// resumed, not started again.
var ErrPlanApplied = errors.New("journal: plan already applied")

// ErrBusy is returned by Claim when another process (or another claim in this
// process) is working the run.
var ErrBusy = errors.New("journal: run is in use by another process")

// ErrLocked is the sentinel a *LockError matches with errors.Is.
var ErrLocked = errors.New("journal: object locked by another run")

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("journal: store is closed")

// LockError reports an object that Lock could not take because another run
// holds it.
type LockError struct {
	Object string // the first requested object found held
	HeldBy string // the id of the run holding it
	// User and Host are who started the holding run and where, when the
	// journal records them (the PostgreSQL journal does).
	User, Host string
}

// Error says which object is locked by which run (and whose, where known).
func (e *LockError) Error() string {
	msg := fmt.Sprintf("journal: object %s is locked by run %s", e.Object, e.HeldBy)
	if e.User != "" || e.Host != "" {
		msg += fmt.Sprintf(" (started by %s on %s)", e.User, e.Host)
	}
	return msg
}

// Is reports whether target is ErrLocked, so errors.Is(err, ErrLocked) holds.
func (e *LockError) Is(target error) bool { return target == ErrLocked }

// RunStatus is where a run stands.
type RunStatus string

// The run statuses. A run is created "running"; the engine moves it on.
const (
	StatusRunning        RunStatus = "running"
	StatusPaused         RunStatus = "paused"
	StatusSucceeded      RunStatus = "succeeded"
	StatusFailed         RunStatus = "failed"
	StatusRolledBack     RunStatus = "rolled-back"
	StatusRollbackFailed RunStatus = "rollback-failed"
	// StatusAborted marks a run an older rebind created and then refused
	// for a lock; CreateRunLocking now refuses before creating one.
	StatusAborted RunStatus = "aborted"
)

// Valid reports whether st is one of the statuses above.
func (st RunStatus) Valid() bool {
	switch st {
	case StatusRunning, StatusPaused, StatusSucceeded, StatusFailed,
		StatusRolledBack, StatusRollbackFailed, StatusAborted:
		return true
	}
	return false
}

// Run is one execution of a runbook, with what resume needs to continue it.
type Run struct {
	// ID is assigned by CreateRun when empty: the UTC creation time to the
	// second and four hex digits, e.g. "20261121T043512-3f9a". Assigned ids
	// sort in creation order, even across processes and clock steps back.
	ID            string
	Runbook       string // the runbook's name
	RunbookDigest string
	PlanDigest    string // "" when applied without a saved plan
	Author        string
	Dir           string // the working directory at creation
	// User and Host are the operating-system user and the machine that
	// created the run. The PostgreSQL journal records them (a team shares
	// it); the SQLite journal, on one machine, leaves them empty.
	User, Host string
	Inputs     []byte // JSON of the non-secret inputs
	Plan       []byte // the engine's plan JSON, opaque here: what resume needs
	Status     RunStatus
	Error      string
	// Created and Updated are in UTC. Updated moves with SetStatus.
	Created, Updated time.Time
}

// Kind says what a record is.
type Kind string

// The record kinds.
const (
	KindIntent        Kind = "intent"         // a write is about to leave the process
	KindOutcome       Kind = "outcome"        // the write returned
	KindFailure       Kind = "failure"        // the write failed
	KindRevertIntent  Kind = "revert-intent"  // a revert is about to leave the process
	KindRevertOutcome Kind = "revert-outcome" // the revert returned
	KindRevertFailure Kind = "revert-failure" // the revert failed
	KindDecision      Kind = "decision"       // the engine decided something resume must repeat
	KindStepApproval  Kind = "step-approval"  // written by ApproveStep
	KindNote          Kind = "note"           // free text for the reader of the journal
	KindStatus        Kind = "status"         // written by SetStatus
)

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool {
	switch k {
	case KindIntent, KindOutcome, KindFailure, KindRevertIntent, KindRevertOutcome,
		KindRevertFailure, KindDecision, KindStepApproval, KindNote, KindStatus:
		return true
	}
	return false
}

// Record is one entry of a run's journal. Records are never changed or
// removed once written.
type Record struct {
	Seq     int64     // assigned when written; strictly increasing per store
	RunID   string    // the run it belongs to
	Time    time.Time // assigned when zero; read back in UTC
	Kind    Kind
	Step    string // the step address, e.g. `step.file.a["k1"]`
	Attempt int
	Data    []byte // JSON payload, opaque here
	Error   string
}
