package diagnose

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestReportOpening pins how the text and the Markdown report open, which
// both build from one overview: the counts, the snapshot's time, the
// redaction mark and, with no finding, the sentence that says so.
func TestReportOpening(t *testing.T) {
	at := time.Date(2026, 4, 8, 12, 0, 0, 0, time.UTC)
	none := &Report{TakenAt: at, Redacted: true, Counts: Counts{Users: 3, DeletedUsers: 1, Recipients: 2, ADUsers: 4}}
	one := &Report{TakenAt: at, Counts: Counts{Users: 1}, Findings: []Finding{{Signature: "s", Title: "T", Objects: []string{"o"}}}}
	for _, c := range []struct {
		name  string
		write func(*Report, *bytes.Buffer)
		r     *Report
		want  string
	}{
		{"text, nothing found", func(r *Report, b *bytes.Buffer) { r.WriteText(b, nil) }, none,
			"Diagnosed 3 users (1 in the recycle bin), 2 recipients, 4 AD users; snapshot time 2026-04-08 12:00:00Z (redacted).\n\nNo failure signature a bundled runbook fixes was found.\n"},
		{"text, a finding", func(r *Report, b *bytes.Buffer) { r.WriteText(b, nil) }, one,
			"Diagnosed 1 users (0 in the recycle bin), 0 recipients, 0 AD users; snapshot time 2026-04-08 12:00:00Z.\n\n1. T [s]\n"},
		{"markdown, nothing found", func(r *Report, b *bytes.Buffer) { r.WriteMarkdown(b) }, none,
			"# rebind diagnose\n\n3 users (1 in the recycle bin), 2 recipients, 4 AD users; snapshot time 2026-04-08 12:00:00Z (redacted).\n\nNo failure signature a bundled runbook fixes was found.\n"},
		{"markdown, a finding", func(r *Report, b *bytes.Buffer) { r.WriteMarkdown(b) }, one,
			"# rebind diagnose\n\n1 users (0 in the recycle bin), 0 recipients, 0 AD users; snapshot time 2026-04-08 12:00:00Z.\n\n## 1. T\n"},
	} {
		var b bytes.Buffer
		c.write(c.r, &b)
		if !strings.HasPrefix(b.String(), c.want) {
			t.Errorf("%s: the report opens\n%q\nwant\n%q", c.name, b.String(), c.want)
		}
	}
}
