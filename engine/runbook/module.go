package runbook

import (
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Bundled is the folder of the runbooks rebind carries (runbooks/ of the
// binary): a module source that is a bare name, `source = "sync-cycle"`,
// is its modules/NAME folder, or else the bundled runbook NAME. Set by the
// command line; nil refuses bare names.
var Bundled fs.FS

// bundledPrefix starts the Sources key of a bundled module's files:
// "bundled:NAME/main.hcl". A local module's files are keyed by their path
// from the root runbook's folder ("modules/sync/main.hcl"); the root's own
// files hold no "/".
const bundledPrefix = "bundled:"

// Module is a `module "NAME" {}` block: a call of another runbook folder,
// whose variables are its inputs and whose outputs the caller reads as
// module.NAME.OUTPUT (module.NAME["KEY"].OUTPUT with for_each).
type Module struct {
	Name        string
	Source      string
	SourceRange hcl.Range
	// Key is where the module's files are in the root runbook's Sources:
	// "modules/sync" or "bundled:sync".
	Key string
	// Inputs are the attributes that set the module's variables, in
	// source order.
	Inputs []*hcl.Attribute
	// ForEach is `for_each` (a map, or a set of strings), nil when absent.
	ForEach hcl.Expression
	// DependsOn lists `depends_on` references: every block of the module
	// comes after them.
	DependsOn []hcl.Traversal
	// Targets maps a target the module declares ("TYPE.NAME") to the
	// caller's target given for it in `targets = {}`; a target not given
	// there is the caller's of the same type and name.
	Targets map[string]hcl.Traversal
	// Pos is how many of the caller's steps come before the call: the
	// module's steps run there, in file order.
	Pos int
	// Child is the module's runbook, as loaded for its checks. The engine
	// loads a fresh copy for each instance (LoadModule).
	Child     *Runbook
	DeclRange hcl.Range
}

// Output is an `output "NAME" { value = ... }` block: what a module gives
// its caller.
type Output struct {
	Name        string
	Description string
	Value       hcl.Expression
	DeclRange   hcl.Range
}

var moduleMeta = map[string]bool{"source": true, "for_each": true, "depends_on": true, "targets": true}

var outputSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "value", Required: true},
		{Name: "description"},
	},
}

func (d *decoder) decodeOutput(b *hcl.Block) hcl.Diagnostics {
	o := &Output{Name: b.Labels[0], DeclRange: b.DefRange}
	diags := checkName(o.Name, "output name", b.LabelRanges[0])
	diags = append(diags, d.declare("output."+o.Name, fmt.Sprintf("Duplicate output %q", o.Name), b.DefRange)...)
	content, cDiags := b.Body.Content(outputSchema)
	diags = append(diags, cDiags...)
	if a, ok := content.Attributes["value"]; ok {
		o.Value = a.Expr
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, constString(a, &o.Description)...)
	}
	if o.Value != nil {
		d.rb.Outputs = append(d.rb.Outputs, o)
	}
	return diags
}

func (d *decoder) decodeModule(b *hcl.Block) hcl.Diagnostics {
	m := &Module{Name: b.Labels[0], DeclRange: b.DefRange, Pos: len(d.rb.Steps), Targets: map[string]hcl.Traversal{}}
	diags := checkName(m.Name, "module name", b.LabelRanges[0])
	diags = append(diags, d.declare("module."+m.Name, fmt.Sprintf("Duplicate module %q", m.Name), b.DefRange)...)
	attrs, aDiags := b.Body.JustAttributes()
	diags = append(diags, aDiags...)
	sorted := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		sorted = append(sorted, a)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Range.Start.Byte < sorted[j].Range.Start.Byte })
	for _, a := range sorted {
		switch a.Name {
		case "source":
			diags = append(diags, constString(a, &m.Source)...)
			m.SourceRange = a.Expr.Range()
		case "for_each":
			m.ForEach = a.Expr
		case "depends_on":
			deps, dDiags := dependsOn(a.Expr)
			diags = append(diags, dDiags...)
			m.DependsOn = deps
		case "targets":
			diags = append(diags, decodeModuleTargets(m, a)...)
		default:
			m.Inputs = append(m.Inputs, a)
		}
	}
	if _, ok := attrs["source"]; !ok {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing module source",
			Detail:   fmt.Sprintf("module %q needs source = \"./FOLDER\" (a folder inside the runbook's) or the name of a bundled module or runbook.", m.Name),
			Subject:  b.DefRange.Ptr(),
		})
	}
	d.rb.Modules = append(d.rb.Modules, m)
	return diags
}

// decodeModuleTargets reads `targets = { "TYPE.NAME" = target.TYPE.OTHER }`.
func decodeModuleTargets(m *Module, a *hcl.Attribute) hcl.Diagnostics {
	pairs, diags := hcl.ExprMap(a.Expr)
	if diags.HasErrors() {
		return diags
	}
	for _, p := range pairs {
		k, kDiags := p.Key.Value(nil)
		if kDiags.HasErrors() || !k.Type().Equals(cty.String) || k.IsNull() || strings.Count(k.AsString(), ".") != 1 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid module target",
				Detail:   `A key of targets is the module's target as "TYPE.NAME", e.g. "entra.tenant".`,
				Subject:  p.Key.Range().Ptr(),
			})
			continue
		}
		t, tDiags := targetTraversal(p.Value)
		diags = append(diags, tDiags...)
		if !tDiags.HasErrors() {
			m.Targets[k.AsString()] = t
		}
	}
	return diags
}

// resolver finds module sources: in the Sources already held (a runbook
// carried by a saved plan holds its modules' files), else in the root
// runbook's folder or the bundled runbooks.
type resolver struct {
	sources map[string][]byte
	// local is the root runbook's folder; nil when loading from sources
	// alone.
	local fs.FS
	total int
	// parsed, when set, gets every module file parsed (the root
	// runbook's Files), so diagnostics in them show their source.
	parsed map[string]*hcl.File
}

// moduleKey resolves source as called from the module at key caller ("" for
// the root runbook): the Sources key of the module's folder.
func moduleKey(caller, source string) (string, error) {
	if !strings.HasPrefix(source, "./") && !strings.HasPrefix(source, "../") {
		if !hclsyntax.ValidIdentifier(source) {
			return "", fmt.Errorf("%q is neither a path starting with ./ (a folder inside the runbook's) nor the name of a bundled module or runbook", source)
		}
		return bundledPrefix + source, nil
	}
	root := ""
	if strings.HasPrefix(caller, bundledPrefix) {
		root, _, _ = strings.Cut(caller, "/")
	}
	joined := path.Join(caller, source)
	if root == "" && (joined == ".." || strings.HasPrefix(joined, "../") || strings.HasPrefix(joined, bundledPrefix)) ||
		root != "" && !strings.HasPrefix(joined, root+"/") {
		where := "the runbook's folder"
		if root != "" {
			where = "the bundled module " + strings.TrimPrefix(root, bundledPrefix)
		}
		return "", fmt.Errorf("%q leads out of %s: a module's source is a folder inside it, or the name of a bundled module", source, where)
	}
	if joined == "." || joined == caller {
		return "", fmt.Errorf("%q is the calling runbook's own folder", source)
	}
	return joined, nil
}

// files returns the module at key's .hcl files (name -> bytes, the names
// being Sources keys), reading them into r.sources when not yet there.
func (r *resolver) files(key string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for name, src := range r.sources {
		if dir, _ := path.Split(name); strings.TrimSuffix(dir, "/") == key {
			out[name] = src
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	fsys, dir := r.local, key
	if strings.HasPrefix(key, bundledPrefix) {
		name := strings.TrimPrefix(key, bundledPrefix)
		fsys, dir = Bundled, path.Join("modules", name)
		if fsys == nil {
			return nil, fmt.Errorf("no bundled runbooks are available here")
		}
		if _, err := fs.Stat(fsys, dir); err != nil {
			dir = name
		}
	}
	if fsys == nil {
		return nil, fmt.Errorf("its files are not among the runbook's sources")
	}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read its folder: %v", err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), Extension) {
			continue
		}
		src, err := readFS(fsys, path.Join(dir, e.Name()), int64(MaxRunbookSize-r.total))
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %v", e.Name(), err)
		}
		r.total += len(src)
		out[key+"/"+e.Name()] = src
		r.sources[key+"/"+e.Name()] = src
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("its folder holds no %s files", Extension)
	}
	return out, nil
}

// resolveModules loads every module rb calls, recursively. stack holds the
// keys of the modules being loaded, to refuse a cycle.
func (r *resolver) resolveModules(rb *Runbook, key string, stack []string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, m := range rb.Modules {
		if m.Source == "" {
			continue // reported
		}
		bad := func(summary, detail string) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: m.SourceRange.Ptr()})
		}
		k, err := moduleKey(key, m.Source)
		if err != nil {
			bad("Invalid module source", fmt.Sprintf("module %q: source %s.", m.Name, err))
			continue
		}
		m.Key = k
		for i, s := range stack {
			if s == k {
				bad("Module cycle", fmt.Sprintf("module %q calls %s, which is already being called: %s. A module cannot call itself, directly or through others.",
					m.Name, k, strings.Join(append(append([]string{}, stack[i:]...), k), " -> ")))
				k = ""
				break
			}
		}
		if k == "" {
			continue
		}
		files, err := r.files(k)
		if err != nil {
			bad("Cannot read module", fmt.Sprintf("module %q (source %q): %s.", m.Name, m.Source, err))
			continue
		}
		child, d := r.load(k, files, append(stack, k))
		diags = append(diags, d...)
		m.Child = child
		if child != nil {
			diags = append(diags, checkCall(m, child)...)
		}
	}
	return diags
}

// load parses a module's files.
func (r *resolver) load(key string, files map[string][]byte, stack []string) (*Runbook, hcl.Diagnostics) {
	rb := &Runbook{Sources: files, Files: map[string]*hcl.File{}, module: key}
	names := slices.Sorted(maps.Keys(files))
	d := newDecoder(rb)
	var diags hcl.Diagnostics
	for _, name := range names {
		f, fDiags := parseNative(files[name], name)
		diags = append(diags, fDiags...)
		if f != nil && r.parsed != nil {
			r.parsed[name] = f
		}
		if f == nil || fDiags.HasErrors() {
			d.parseFailed = true
			continue
		}
		rb.Files[name] = f
		diags = append(diags, d.decodeFile(f)...)
	}
	diags = append(diags, d.finish()...)
	if diags.HasErrors() {
		return rb, diags
	}
	diags = append(diags, r.resolveModules(rb, key, stack)...)
	return rb, diags
}

// checkCall checks a call against the module it calls: every input is a
// variable of the module, every variable without a default is given, and
// the module's targets are empty (the caller's give them their settings).
func checkCall(m *Module, child *Runbook) hcl.Diagnostics {
	var diags hcl.Diagnostics
	vars := map[string]*Variable{}
	var names []string
	for _, v := range child.Variables {
		vars[v.Name] = v
		names = append(names, v.Name)
	}
	given := map[string]bool{}
	for _, a := range m.Inputs {
		given[a.Name] = true
		if _, ok := vars[a.Name]; !ok {
			detail := fmt.Sprintf("module %q (source %q) has no variable %q.", m.Name, m.Source, a.Name)
			if len(names) > 0 {
				detail += " Its inputs are: " + strings.Join(names, ", ") + "."
			} else {
				detail += " It takes no inputs."
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown module input", Detail: detail, Subject: a.NameRange.Ptr()})
		}
	}
	for _, v := range child.Variables {
		if v.Default == cty.NilVal && !given[v.Name] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing module input",
				Detail:   fmt.Sprintf("module %q (source %q) needs %s = ..., its variable declared at %s.", m.Name, m.Source, v.Name, v.DeclRange),
				Subject:  m.DeclRange.Ptr(),
			})
		}
		if v.Sensitive {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Sensitive module variable",
				Detail:   fmt.Sprintf("The variable %q of module %q is sensitive; a module's inputs are not yet kept out of plans and the journal, so a module cannot take a secret. Declare the variable in the calling runbook instead.", v.Name, m.Name),
				Subject:  v.DeclRange.Ptr(),
			})
		}
	}
	for _, t := range child.Targets {
		if attrs, _ := t.Config.JustAttributes(); len(attrs) > 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Module target with settings",
				Detail:   fmt.Sprintf("target %q %q of module %q has settings; a module's targets are its caller's, with the caller's settings: declare it empty.", t.Type, t.Name, m.Name),
				Subject:  t.DeclRange.Ptr(),
			})
		}
	}
	for k, tr := range m.Targets {
		found := false
		for _, t := range child.Targets {
			if t.Type+"."+t.Name == k {
				found = true
			}
		}
		if !found {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown module target",
				Detail:   fmt.Sprintf("module %q (source %q) declares no target %q.", m.Name, m.Source, k),
				Subject:  tr.SourceRange().Ptr(),
			})
		}
	}
	return diags
}

// ModuleTarget is the caller's target a module's target TYPE.NAME stands
// for: the one given in targets = {}, else the caller's of the same type
// and name (as Terraform passes providers to modules: implicitly by name,
// or explicitly in providers = {}).
func (m *Module) ModuleTarget(typ, name string) (string, string) {
	if t, ok := m.Targets[typ+"."+name]; ok && len(t) == 3 {
		return t[1].(hcl.TraverseAttr).Name, t[2].(hcl.TraverseAttr).Name
	}
	return typ, name
}

// LoadModule parses a fresh copy of the module m calls from sources (a
// root runbook's Sources, which hold its modules' files),
// its own module calls resolved likewise: the engine lays out one copy per
// instance.
func LoadModule(m *Module, sources map[string][]byte) (*Runbook, hcl.Diagnostics) {
	r := &resolver{sources: sources}
	files, err := r.files(m.Key)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read module",
			Detail: fmt.Sprintf("module %q: %s.", m.Name, err), Subject: m.SourceRange.Ptr()}}
	}
	return r.load(m.Key, files, []string{m.Key})
}

// checkModuleRefs checks that every module.NAME.OUTPUT names an output the
// module declares.
func checkModuleRefs(rb *Runbook) hcl.Diagnostics {
	byName := map[string]*Module{}
	for _, m := range rb.Modules {
		byName[m.Name] = m
	}
	var diags hcl.Diagnostics
	for _, t := range rb.moduleRefs {
		names := attrNames(t, 2)
		m := byName[names[0]]
		if m == nil || m.Child == nil {
			continue
		}
		var out string
		switch {
		case m.ForEach == nil && len(names) >= 2:
			out = names[1]
		case m.ForEach != nil && len(t) >= 4:
			if a, ok := t[3].(hcl.TraverseAttr); ok {
				if _, ok := t[2].(hcl.TraverseIndex); ok {
					out = a.Name
				}
			}
		}
		if out == "" {
			continue
		}
		found := false
		var outs []string
		for _, o := range m.Child.Outputs {
			outs = append(outs, o.Name)
			found = found || o.Name == out
		}
		if !found {
			detail := fmt.Sprintf("module %q (source %q) has no output %q.", m.Name, m.Source, out)
			if len(outs) > 0 {
				detail += " Its outputs are: " + strings.Join(outs, ", ") + "."
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Reference to undeclared module output", Detail: detail, Subject: t.SourceRange().Ptr()})
		}
	}
	return diags
}
