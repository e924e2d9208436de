// Package instancetest starts lab tenants for tests: the one copy of the
// start-check-close block the lab, step, CLI and runbook tests all need.
package instancetest

import (
	"testing"

	"github.com/rebind-dev/rebind/lab/instance"
)

// Start starts a lab instance as rehearse does (HTTPS with its own CA,
// tokens from its token endpoint, unless opts says otherwise), fails the
// test if it cannot, and closes it when the test ends.
func Start(t testing.TB, opts instance.Options) *instance.Instance {
	t.Helper()
	in, err := instance.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}
