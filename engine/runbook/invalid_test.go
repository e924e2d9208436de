package runbook

import (
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/rebind-dev/rebind/engine/runbook/diagtest"
)

// TestInvalidRunbooks loads each file under testdata/invalid and compares its
// error diagnostics with the `# ERROR: <Summary>` markers in it, by line: a
// marker stands on the line where the diagnostic's Subject starts.
func TestInvalidRunbooks(t *testing.T) {
	diagtest.Corpus(t, "testdata/invalid/*.hcl", func(t *testing.T, name string, src []byte) hcl.Diagnostics {
		_, diags := LoadSources("testdata/invalid", map[string][]byte{name: src})
		return diags
	})
}
