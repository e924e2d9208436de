// Package core holds the step types that need no directory target: file,
// export, assert, wait, approve and exec. They are the glue of a runbook:
// a baseline written before a change, a check between two steps, a pause
// for sync to catch up, a person's go-ahead in the middle of a run, and a
// command that has no step type of its own.
//
// Every type registers itself in init, so importing the package for its
// side effect is enough:
//
//	import _ "github.com/rebind-dev/rebind/steps/core"
//
// Errors name the step and the attribute or path involved, prefixed
// "core: <step type>:". Values carrying a sensitive mark are never written
// to disk by these steps.
package core
