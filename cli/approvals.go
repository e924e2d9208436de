package cli

import (
	"strings"

	"github.com/rebind-dev/rebind/engine/approval"
)

// indentErr lists the parts of err one a line, indented.
func indentErr(err error) string {
	var lines []string
	for _, e := range approval.Unjoin(err) {
		lines = append(lines, "  "+safe(e.Error()))
	}
	return strings.Join(lines, "\n")
}
