package lab

import (
	"time"
)

// Entra Connect's built-in scheduler, as the lab models it
// (learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler):
// "By default every 30 minutes a synchronization cycle is run", Delta
// unless the next cycle must be Initial (NextSyncCyclePolicyType);
// `Set-ADSyncScheduler -SyncCycleEnabled $false` stops the scheduler from
// running cycles, which is what a change that needs quiet does, and
// `$true` starts it again. Cycles started by hand (Start-ADSyncSyncCycle)
// run either way. The interval is Config.SyncInterval; zero has no
// scheduler at all, as in tests that decide when sync happens.

// SchedulerStatus is what Get-ADSyncScheduler reports of the sync cycle
// part of the scheduler.
type SchedulerStatus struct {
	// SyncCycleEnabled is false while Set-ADSyncScheduler -SyncCycleEnabled
	// $false holds the scheduler's cycles.
	SyncCycleEnabled bool `json:"syncCycleEnabled"`
	// Interval is CurrentlyEffectiveSyncCycleInterval; "0s" when the lab
	// runs no scheduler.
	Interval Duration `json:"currentlyEffectiveSyncCycleInterval"`
	// NextSyncCyclePolicyType is Initial when sync was turned on since
	// the last cycle, else Delta.
	NextSyncCyclePolicyType SyncPolicy `json:"nextSyncCyclePolicyType"`
	// NextSyncCycleStartTimeInUTC is when the next scheduled cycle starts;
	// absent when none will.
	NextSyncCycleStartTimeInUTC *time.Time `json:"nextSyncCycleStartTimeInUTC,omitempty"`
}

// Scheduler returns the scheduler's state.
func (t *Tenant) Scheduler() SchedulerStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := SchedulerStatus{SyncCycleEnabled: !t.sync.SchedulerOff, Interval: t.cfg.SyncInterval, NextSyncCyclePolicyType: Delta}
	if t.sync.FullPending {
		st.NextSyncCyclePolicyType = Initial
	}
	if next, ok := t.nextScheduled(); ok {
		st.NextSyncCycleStartTimeInUTC = &next
	}
	return st
}

// SetSchedulerEnabled is Set-ADSyncScheduler -SyncCycleEnabled on. Turned
// back on, the scheduler runs its next cycle an interval after the last
// one, at once if that time has passed.
func (t *Tenant) SetSchedulerEnabled(on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sync.SchedulerOff = !on
}

// nextScheduled is when the scheduler runs its next cycle; false when it
// runs none (no interval, or held). An overdue cycle is due now.
func (t *Tenant) nextScheduled() (time.Time, bool) {
	iv := t.cfg.SyncInterval.D()
	if iv <= 0 || t.sync.SchedulerOff {
		return time.Time{}, false
	}
	last := t.sync.LastRun
	if last.IsZero() {
		last = t.now
	}
	next := last.Add(iv)
	if next.Before(t.now) {
		next = t.now
	}
	return next, true
}
