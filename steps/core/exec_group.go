package core

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"time"
)

const (
	// execStopGrace is how long the processes of a stopped command have
	// between SIGTERM and SIGKILL: enough to remove a temporary file, short
	// enough that the step is decided soon after its timeout or an
	// interrupt.
	execStopGrace = 500 * time.Millisecond
	// execKillWait bounds the wait for killed processes to be gone. Only a
	// process stuck in the kernel (a hung network file system) outlives it.
	execKillWait = 2 * time.Second
	// execPollEvery is how often a stopping group is looked at again.
	execPollEvery = 10 * time.Millisecond
)

// groupStopper stops a command's process group when ctx ends before the
// command does. A command runs as the leader of a group of its own
// (SysProcAttr.Setsid), and whatever it starts, a subshell in the background
// included, is in that group unless it leaves it on purpose (setsid), so
// signalling the group reaches all of it.
type groupStopper struct {
	pgid int
	stop chan struct{} // closed by release: the command was waited for

	mu       sync.Mutex
	released bool
	stopping bool          // the group was signalled
	gone     chan struct{} // closed when the goroutine is done
}

// stopGroupOnCancel watches ctx for the command whose process (and group)
// id is pgid; call release once cmd.Wait has returned.
func stopGroupOnCancel(ctx context.Context, pgid int) *groupStopper {
	g := &groupStopper{pgid: pgid, stop: make(chan struct{}), gone: make(chan struct{})}
	go func() {
		defer close(g.gone)
		select {
		case <-g.stop:
			return
		case <-ctx.Done():
		}
		g.mu.Lock()
		if g.released {
			g.mu.Unlock()
			return
		}
		// While cmd.Wait has not returned, a process of the group still
		// holds its output pipes or is the unreaped leader, so pgid still
		// names this group and no other.
		g.stopping = true
		g.mu.Unlock()
		stopGroup(pgid)
	}()
	return g
}

// release ends the watch. It reports whether the group was stopped because
// ctx ended, and if so returns only once no process of the group can run
// again: a step is decided after the last write its command could make.
func (g *groupStopper) release() (stopped bool) {
	g.mu.Lock()
	g.released = true
	stopping := g.stopping
	g.mu.Unlock()
	close(g.stop)
	<-g.gone
	return stopping
}

// stopGroup asks every process of group pgid to end (SIGTERM, and SIGCONT
// for one that is stopped), kills those left after execStopGrace (SIGKILL),
// and returns once none of them can run, or after execKillWait.
func stopGroup(pgid int) {
	if signalGroup(pgid, syscall.SIGTERM) {
		signalGroup(pgid, syscall.SIGCONT)
		if waitGroupGone(pgid, execStopGrace) {
			return
		}
	}
	if signalGroup(pgid, syscall.SIGKILL) {
		waitGroupGone(pgid, execKillWait)
	}
}

// signalGroup sends sig to every process of group pgid; false means the
// group is gone.
func signalGroup(pgid int, sig syscall.Signal) bool {
	return !errors.Is(syscall.Kill(-pgid, sig), syscall.ESRCH)
}

// waitGroupGone polls until no process of group pgid can run, for at most
// limit, and reports whether that happened.
func waitGroupGone(pgid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		if !groupRunning(pgid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(execPollEvery)
	}
}
