package core

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/rebind-dev/rebind/engine/lang"
)

// A runbook's durations have one grammar: what a meta-argument (timeout,
// await, retry.backoff, read by engine/lang) accepts, a wait's duration and
// interval accept, with the same value, and what one refuses the other
// refuses. "1.5d" was accepted by the first and refused by the second.
func TestDurationGrammarAgreesWithTheLanguage(t *testing.T) {
	for _, in := range []string{
		"90s", "1h30m", "1.5h", "30d", "1d12h", "1.5d", ".5d", "1h2d", " 5m ", "0s",
		"", "d", "soon", "3 days", "1d-1h", "-1h", "-1d", "1x", "99999999999d",
	} {
		expr, diags := hclsyntax.ParseExpression([]byte(fmt.Sprintf("%q", in)), "test.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("%q: %s", in, diags.Error())
		}
		langD, langDiags := lang.ParseDuration(nil, expr, "timeout")
		coreD, coreErr := parseDuration("duration", in)
		if langDiags.HasErrors() != (coreErr != nil) {
			t.Errorf("%q: engine/lang says %v (%v), steps/core says %v (%v)", in, langD, langDiags, coreD, coreErr)
			continue
		}
		if langD != coreD {
			t.Errorf("%q: engine/lang reads %v, steps/core reads %v", in, langD, coreD)
		}
	}
	if d, err := parseDuration("duration", "1.5d"); err != nil || d != 36*time.Hour {
		t.Errorf(`parseDuration("1.5d") = %v, %v; want 36h`, d, err)
	}
}
