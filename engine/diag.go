package engine

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/rebind-dev/rebind/steps"
)

func symbol(a steps.Action) string {
	switch a {
	case steps.Create:
		return "+"
	case steps.Update:
		return "~"
	case steps.Delete:
		return "-"
	case steps.Run:
		return "!"
	}
	return " "
}

func errDiag(summary string, err error) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: err.Error() + ".", Extra: err}
}

// diagText flattens diagnostics to one line per error, for the journal.
func diagText(diags hcl.Diagnostics) string {
	var parts []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		s := d.Summary
		if d.Detail != "" {
			s += ": " + d.Detail
		}
		if d.Subject != nil {
			s = fmt.Sprintf("%s:%d: %s", d.Subject.Filename, d.Subject.Start.Line, s)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
