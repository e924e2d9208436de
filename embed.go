// Package rebind holds the files the rebind binary carries with it: the lab
// scenarios and the documented runbooks, embedded so that `rebind lab serve
// --scenario NAME`, `rebind runbooks` and `rebind rehearse NAME` work from
// any directory.
package rebind

import "embed"

// Scenarios holds testdata/scenarios/*.json, the lab tenant's scenario
// files; open them with lab.LoadScenario(Scenarios, name).
//
//go:embed testdata/scenarios/*.json
var Scenarios embed.FS

// Runbooks holds runbooks/NAME/: each runbook's .hcl files, its README.md
// (when to use it, when not, what it changes, what it needs) and its
// rehearsal.json (the lab scenario and inputs `rebind rehearse` uses).
//
//go:embed runbooks
var Runbooks embed.FS
