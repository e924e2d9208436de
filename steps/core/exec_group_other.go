//go:build unix && !linux

package core

import (
	"errors"
	"syscall"
)

// groupRunning reports whether group pgid still has a process. Without
// Linux's /proc, a zombie counts as one: the caller's time limit then ends
// the wait for a group whose orphans init has not yet collected.
func groupRunning(pgid int) bool {
	return !errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}
