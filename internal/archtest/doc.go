// Package archtest holds the architecture test: the import rules between
// rebind's layers, checked over `go list` on every test run. It has no code
// of its own; see arch_test.go and ARCHITECTURE.md.
package archtest
