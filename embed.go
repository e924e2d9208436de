// Package rebind holds the files the rebind binary carries with it: the lab
// scenarios (and, later, the runbooks), embedded so that `rebind lab serve
// --scenario NAME` works from any directory.
package rebind

import "embed"

// Scenarios holds testdata/scenarios/*.json, the lab tenant's scenario
// files; open them with lab.LoadScenario(Scenarios, name).
//
//go:embed testdata/scenarios/*.json
var Scenarios embed.FS
