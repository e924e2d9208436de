// Package adversarial is rebind's attack suite. Its tests try, as an
// attacker or a careless operator would, to break the four promises rebind
// makes: a reviewed plan is exactly what runs, secrets are never stored,
// resume never repeats an unsafe action, and bad input gets a clear error.
//
// The tests drive rebind as a real process (the test binary re-executes
// itself as the rebind command), so signals, exit codes, files on disk and
// every byte written to stdout and stderr are what an operator would see.
// The package holds no code of its own beyond this comment.
package adversarial
