package diagnose

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rebind-dev/rebind/termtext"
)

// VarFile is a finding's -var-file: its variables as JSON.
func (f *Finding) VarFile() ([]byte, error) {
	if f.Runbook == "" {
		return nil, nil
	}
	b, err := json.MarshalIndent(f.Vars, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteVarFiles writes each finding's -var-file into dir as
// NN-RUNBOOK.json and returns the paths, in finding order ("" for a
// finding without a runbook).
func (r *Report) WriteVarFiles(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	paths := make([]string, len(r.Findings))
	for i := range r.Findings {
		f := &r.Findings[i]
		b, err := f.VarFile()
		if err != nil {
			return nil, err
		}
		if b == nil {
			continue
		}
		p := filepath.Join(dir, fmt.Sprintf("%02d-%s.json", i+1, f.Runbook))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return nil, err
		}
		paths[i] = p
	}
	return paths, nil
}

func line(s string) string { return termtext.Line(termtext.Clip(s, 1000)) }

// overview is what the text and the Markdown report open with: what was
// read, the snapshot's time and, when nothing was found, that too.
func (r *Report) overview() string {
	s := fmt.Sprintf("%d users (%d in the recycle bin), %d recipients, %d AD users; snapshot time %s%s.",
		r.Counts.Users, r.Counts.DeletedUsers, r.Counts.Recipients, r.Counts.ADUsers, r.TakenAt.UTC().Format("2006-01-02 15:04:05Z"),
		map[bool]string{true: " (redacted)", false: ""}[r.Redacted])
	if len(r.Findings) == 0 {
		s += "\n\nNo failure signature a bundled runbook fixes was found."
	}
	return s
}

// WriteText writes the report for a terminal. varFiles are the paths
// WriteVarFiles returned, nil when none were written.
func (r *Report) WriteText(w io.Writer, varFiles []string) {
	fmt.Fprintf(w, "Diagnosed %s\n", r.overview())
	for i := range r.Findings {
		f := &r.Findings[i]
		fmt.Fprintf(w, "\n%d. %s [%s]\n", i+1, line(f.Title), f.Signature)
		fmt.Fprintf(w, "   Objects: %s\n", line(strings.Join(f.Objects, ", ")))
		fmt.Fprintln(w, "   Evidence:")
		for _, e := range f.Evidence {
			fmt.Fprintf(w, "     - %s\n", line(e))
		}
		if f.Runbook != "" {
			fmt.Fprintf(w, "   Fix: rebind plan %s", f.Runbook)
			if varFiles != nil && varFiles[i] != "" {
				fmt.Fprintf(w, " -var-file %s\n", line(varFiles[i]))
			} else {
				fmt.Fprintln(w, " -var-file FILE, FILE holding:")
				b, _ := f.VarFile()
				for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
					fmt.Fprintf(w, "     %s\n", line(l))
				}
			}
			fmt.Fprintf(w, "        (rehearse it first: rebind rehearse %s --snapshot SNAPSHOT -var-file ...)\n", f.Runbook)
		}
		for _, s := range f.Steps {
			fmt.Fprintf(w, "   What to do: %s\n", line(s))
		}
		if len(f.Refusals) > 0 {
			fmt.Fprintln(w, "   What would make it refuse:")
			for _, s := range f.Refusals {
				fmt.Fprintf(w, "     - %s\n", line(s))
			}
		}
	}
	r.writeReads(w, "")
}

func (r *Report) writeReads(w io.Writer, heading string) {
	total := 0
	for _, rd := range r.Reads {
		total += rd.Requests
	}
	// Text indents its lists under a heading line; Markdown wants a blank
	// line after "## heading" and items at the margin.
	indent, after := "  ", ""
	if heading != "" {
		indent, after = "", "\n"
	}
	item := func(s string) {
		if heading != "" {
			s = md(s)
		} else {
			s = line(s)
		}
		fmt.Fprintf(w, "%s- %s\n", indent, s)
	}
	fmt.Fprintf(w, "\n%sRead (read-only), %d requests:\n%s", heading, total, after)
	for _, rd := range r.Reads {
		s := fmt.Sprintf("%s %s: %d requests, %d objects, %s", rd.API, rd.What, rd.Requests, rd.Objects, time.Duration(rd.Took))
		if rd.Error != "" {
			s += " (refused: " + rd.Error + ")"
		}
		item(s)
	}
	fmt.Fprintf(w, "\n%sPermissions used:\n%s", heading, after)
	for _, p := range r.Permissions {
		item(p)
	}
	if len(r.NotRead) > 0 {
		fmt.Fprintf(w, "\n%sNot read (so not diagnosed):\n%s", heading, after)
		for _, n := range r.NotRead {
			item(n)
		}
	}
}

// md escapes text for Markdown: control characters made visible, and the
// characters Markdown gives meaning to escaped.
func md(s string) string {
	s = line(s)
	r := strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;", "|", `\|`, "#", `\#`)
	return r.Replace(s)
}

// WriteMarkdown writes the report as Markdown.
func (r *Report) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "# rebind diagnose\n\n%s\n", r.overview())
	for i := range r.Findings {
		f := &r.Findings[i]
		fmt.Fprintf(w, "\n## %d. %s\n\n`%s`\n\n**Objects:** %s\n\n**Evidence:**\n\n", i+1, md(f.Title), f.Signature, md(strings.Join(f.Objects, ", ")))
		for _, e := range f.Evidence {
			fmt.Fprintf(w, "- %s\n", md(e))
		}
		if f.Runbook != "" {
			b, _ := f.VarFile()
			fmt.Fprintf(w, "\n**Fix:** `rebind plan %s -var-file vars.json` with `vars.json`:\n\n```json\n%s```\n", f.Runbook, strings.ReplaceAll(string(b), "```", "` ` `"))
		}
		for _, s := range f.Steps {
			fmt.Fprintf(w, "\n**What to do:** %s\n", md(s))
		}
		if len(f.Refusals) > 0 {
			fmt.Fprintln(w, "\n**What would make it refuse:**")
			fmt.Fprintln(w)
			for _, s := range f.Refusals {
				fmt.Fprintf(w, "- %s\n", md(s))
			}
		}
	}
	r.writeReads(w, "## ")
}
