// Package rebind holds the files the rebind binary carries with it: the
// documented runbooks, embedded so that `rebind runbooks` and `rebind
// rehearse NAME` work from any directory. The lab's scenarios are embedded
// by package lab (lab.ScenarioFiles).
package rebind

import "embed"

// Runbooks holds runbooks/NAME/: each runbook's .hcl files, its README.md
// (when to use it, when not, what it changes, what it needs) and its
// rehearsal.json (the lab scenario and inputs `rebind rehearse` uses).
//
//go:embed runbooks
var Runbooks embed.FS
