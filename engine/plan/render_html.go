package plan

import (
	"fmt"
	"html/template"
	"io"
)

// RenderHTML writes the plan as one self-contained HTML page for a reviewer
// to open in a browser: the summary and digest, the irreversible changes
// with their reasons first, then every change grouped by the object it
// touches, the permissions needed and the approvals so far.
//
// The page has its style inline and loads nothing: a Content-Security-Policy
// forbids every external resource and all scripts, so a page mailed around
// or opened from a ticket works offline and cannot phone home. All plan text
// goes through html/template, which escapes it for its context.
func RenderHTML(w io.Writer, p *Plan, opt RenderOptions) error {
	v := buildView(p, opt)
	if err := htmlPage.Execute(w, htmlView{planView: v}); err != nil {
		return fmt.Errorf("plan: render html: %w", err)
	}
	return nil
}

// htmlView adds what the template needs to the shared view.
type htmlView struct {
	planView
}

// Rows flattens a group into table rows, one per changed attribute, with
// the step's cells spanning its attributes.
func (htmlView) Rows(g groupView) []htmlRow {
	var out []htmlRow
	for _, r := range g.Rows {
		attrs := r.Attrs
		if len(attrs) == 0 {
			attrs = []attrView{{}}
		}
		for i, a := range attrs {
			hr := htmlRow{Row: r, Attr: a}
			if i == 0 {
				hr.Span = len(attrs)
			}
			out = append(out, hr)
		}
	}
	return out
}

// Notes lists a group's notes with their step addresses.
func (htmlView) Notes(g groupView) []irreversibleView {
	var out []irreversibleView
	for _, r := range g.Rows {
		for _, n := range r.Notes {
			out = append(out, irreversibleView{Address: r.Address, Reason: n})
		}
	}
	return out
}

type htmlRow struct {
	Row  rowView
	Attr attrView
	// Span is the number of rows the step's cells span; 0 on the rows
	// after its first.
	Span int
}

var htmlPage = template.Must(template.New("plan").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rebind plan {{.Name}}</title>
<style>
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --soft: #f6f8fa;
  --create: #1a7f37; --update: #9a6700; --delete: #cf222e; --run: #8250df; --deferred: #0969da; --idle: #59636e; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.5 -apple-system, "Segoe UI", "Noto Sans", "Liberation Sans", Helvetica, Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h1 .name { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.title { font-size: 17px; color: var(--muted); margin: 0 0 16px; }
h2 { font-size: 18px; margin: 32px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 0; padding: 8px 12px; background: var(--soft); border-bottom: 1px solid var(--line);
  font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace; word-break: break-all; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; }
.summary { font-size: 16px; font-weight: 600; padding: 10px 14px; background: var(--soft); border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 6px 10px; border-bottom: 1px solid var(--line); }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
td code { word-break: break-all; }
table.meta { width: auto; margin: 12px 0 16px; }
table.meta th { text-transform: none; letter-spacing: 0; font-size: 14px; padding-left: 0; }
table.meta td, table.meta th { border: 0; padding-top: 2px; padding-bottom: 2px; }
.digest { font-weight: 600; word-break: break-all; }
.object { border: 1px solid var(--line); border-radius: 6px; margin: 0 0 16px; overflow: hidden; }
.object table { table-layout: fixed; }
.object col.step { width: 27%; } .object col.action { width: 13%; } .object col.attr { width: 16%; }
.object col.value { width: 22%; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 12px; font-size: 12px; font-weight: 600; color: #fff; background: var(--idle); white-space: nowrap; }
.a-create { background: var(--create); } .a-update { background: var(--update); } .a-delete { background: var(--delete); }
.a-run { background: var(--run); } .a-deferred { background: var(--deferred); }
.a-read, .a-no-op { background: #fff; color: var(--idle); border: 1px solid var(--line); }
.irrev-badge { color: var(--delete); font-weight: 700; font-size: 12px; white-space: nowrap; }
td .await, td .irrev-badge { display: block; margin-top: 2px; }
.await { color: var(--muted); font-size: 12px; }
.none { color: var(--muted); }
.irreversible { border: 2px solid var(--delete); border-radius: 6px; background: #fff5f5; padding: 4px 16px; }
.irreversible li { margin: 10px 0; }
.irreversible .reason { display: block; }
.notes { margin: 0; padding: 8px 12px; background: #fffbea; border-top: 1px solid var(--line); font-size: 14px; }
.notes p { margin: 2px 0; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; white-space: pre-wrap; word-break: break-all; }
.ok { color: var(--create); font-weight: 600; } .short { color: var(--delete); font-weight: 600; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; border-top: 1px solid var(--line); padding-top: 10px; }
@media print { .object, .irreversible { break-inside: avoid; } }
</style>
</head>
<body>
<main>
<header>
<h1>rebind plan <span class="name">{{.Name}}</span></h1>
{{if .Title}}<p class="title">{{.Title}}</p>{{end}}
<p class="summary" id="summary">{{.Summary}}</p>
<table class="meta">
<tr><th scope="row">Digest</th><td><code class="digest" id="digest">sha256:{{.Digest}}</code></td></tr>
<tr><th scope="row">Author</th><td>{{.Author}}</td></tr>
<tr><th scope="row">Created</th><td>{{.Created}}</td></tr>
<tr><th scope="row">Expires</th><td>{{.Expires}}</td></tr>
{{if .Lab}}<tr><th scope="row">Targets</th><td>bound to the lab tenant at <code>{{.Lab}}</code></td></tr>{{end}}
{{with .Environment}}<tr><th scope="row">Environment</th><td><code>{{.File}}</code> (settings <code>sha256:{{.Digest}}</code>)</td></tr>{{end}}
{{if .Secrets}}<tr><th scope="row">Secrets</th><td>{{range $i, $s := .Secrets}}{{if $i}}, {{end}}<code>{{$s}}</code>{{end}} (not stored; given again at apply)</td></tr>{{end}}
<tr><th scope="row">Approvals</th><td>{{.Approvals.Count}} of {{.Approvals.Required}} required (distinct reviewers, author excluded)</td></tr>
</table>
</header>
{{if .Irreversible}}
<section id="irreversible">
<h2>Irreversible changes</h2>
<div class="irreversible">
<ul>
{{range .Irreversible}}<li><code>{{.Address}}</code> <span class="irrev-badge">{{.Action}}</span>{{if .Object}} on <code>{{.Object}}</code>{{end}}<span class="reason">{{.Reason}}</span></li>
{{end}}</ul>
</div>
</section>
{{end}}
<section id="changes">
<h2>Changes by object</h2>
{{if .Listed}}<p class="listed" id="listed">{{.Listed}}</p>{{end}}
{{range .Groups}}<div class="object">
<h3>{{.Object}}</h3>
<table>
<colgroup><col class="step"><col class="action"><col class="attr"><col class="value"><col class="value"></colgroup>
<thead><tr><th>Step</th><th>Action</th><th>Attribute</th><th>Before</th><th>After</th></tr></thead>
<tbody>
{{range $.Rows .}}<tr>{{if .Span}}<td rowspan="{{.Span}}"><code class="address">{{.Row.Address}}</code></td><td rowspan="{{.Span}}"><span class="badge a-{{.Row.Action}}">{{.Row.Verb}}</span>{{if .Row.Await}}<span class="await">await {{.Row.Await}}</span>{{end}}{{if .Row.Irreversible}}<span class="irrev-badge">irreversible</span>{{end}}</td>{{end}}<td>{{if .Attr.Name}}<code>{{.Attr.Name}}</code>{{else}}<span class="none">—</span>{{end}}</td><td>{{if .Attr.Before}}<code>{{.Attr.Before}}</code>{{else}}<span class="none">—</span>{{end}}</td><td>{{if .Attr.After}}<code>{{.Attr.After}}</code>{{else}}<span class="none">—</span>{{end}}</td></tr>
{{end}}</tbody>
</table>
{{with $.Notes .}}<div class="notes">{{range .}}<p><strong>Note</strong> <code>{{.Address}}</code>: {{.Reason}}</p>{{end}}</div>{{end}}
</div>
{{end}}</section>
{{if .Listed}}
<section id="not-listed">
<h2>Not listed</h2>
<table>
<thead><tr><th>Step</th><th>Instances</th></tr></thead>
<tbody>
{{range .NotListed}}<tr><td><code>{{.Step}}</code></td><td>{{.Counts}}</td></tr>
{{end}}</tbody>
</table>
<p>To see them: {{.SeeAll}}.</p>
</section>
{{end}}
{{if .Modules}}
<section id="modules">
<h2>Modules</h2>
<ul>
{{range .Modules}}<li>{{.}}</li>
{{end}}</ul>
</section>
{{end}}
{{if .Permissions}}
<section id="permissions">
<h2>Permissions needed</h2>
<ul>
{{range .Permissions}}<li>{{.}}</li>
{{end}}</ul>
</section>
{{end}}
{{if .Cost}}
<section id="cost">
<h2>Apply will spend</h2>
<ul>
{{range .Cost}}<li>{{.}}</li>
{{end}}</ul>
</section>
{{end}}
<section id="approvals">
<h2>Approvals</h2>
{{if .Approvals.Signers}}<table>
<thead><tr><th>Reviewer</th><th>Key</th><th>Signed</th></tr></thead>
<tbody>
{{range .Approvals.Signers}}<tr><td>{{if .Name}}{{.Name}}{{else}}<span class="none">not verified</span>{{end}}</td><td><code>{{.Key}}</code></td><td>{{if .Created}}{{.Created}}{{else}}<span class="none">—</span>{{end}}</td></tr>
{{end}}</tbody>
</table>{{end}}
<p class="{{if and .Approvals.Verified (ge .Approvals.Count .Approvals.Required)}}ok{{else if .Approvals.Verified}}short{{end}}">{{.Approvals.Note}}</p>
<p>To approve, check the digest, then sign it with rebind or with ssh-keygen:</p>
<pre>rebind approve {{.PlanFile}} --key ~/.ssh/id_ed25519
printf %s {{.Digest}} | ssh-keygen -Y sign -n rebind-plan -f ~/.ssh/id_ed25519 &gt; plan.sig &amp;&amp; rebind approve {{.PlanFile}} --signature plan.sig</pre>
</section>
<footer>Plan digest <code>sha256:{{.Digest}}</code>. Approvals sign this digest; any change to the plan voids them.</footer>
</main>
</body>
</html>
`))
