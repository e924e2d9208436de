package core

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"syscall"
)

// groupRunning reports whether a process of group pgid can still run: one
// that exists and is not a zombie. A killed process that was orphaned stays
// a zombie until init collects it, which the init of some containers never
// does, yet it can no longer write anything; so /proc is read for each
// process's state and group.
func groupRunning(pgid int) bool {
	if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true // cannot tell: the caller's time limit decides
	}
	want := []byte(strconv.Itoa(pgid))
	for _, e := range entries {
		name := e.Name()
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue // it ended since the listing
		}
		// "pid (comm) state ppid pgrp ...": comm may hold spaces and
		// parentheses, so the fields are counted from the last ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(stat[i+1:])
		if len(f) < 3 || !bytes.Equal(f[2], want) {
			continue
		}
		if state := f[0]; !bytes.Equal(state, []byte("Z")) && !bytes.Equal(state, []byte("X")) {
			return true
		}
	}
	return false
}
