package runbook

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/rebind-dev/rebind/engine/addrs"
)

// LayOut returns the runbook with the blocks of every module it calls laid
// out in it, as if written inline: a module's steps run where the module
// block stands among the steps, its data blocks are read with the others,
// and its variables, locals and outputs are locals. Each block keeps its
// module path (Step.Module: module.NAME.step.T.N), and every reference of
// a module's expressions is renamed to its own copy, so that the engine
// evaluates one flat scope:
//
//	var.x            -> local["module.NAME.var.x"]  (the caller's input)
//	local.x          -> local["module.NAME.local.x"]
//	step.T.N, data.T.N -> step.T["module.NAME.N"]
//	module.M.out     -> local["module.NAME.module.M"].out
//	target.T.N       -> the caller's target (targets = {} or the same name)
//
// A module called with for_each is laid out once per key; its for_each may
// refer only to variables (ctx holds them, as var, with the functions), so
// that the blocks are known before anything is read, as Terraform needs a
// module's for_each known at plan. A for_each not known (validate, with no
// inputs) lays out one instance keyed "" whose each is unknown.
//
// rb is not changed. A runbook without modules is returned as it is.
func LayOut(rb *Runbook, ctx *hcl.EvalContext) (*Runbook, hcl.Diagnostics) {
	if len(rb.Modules) == 0 {
		return rb, nil
	}
	flat := *rb
	flat.Locals = append([]*Local{}, rb.Locals...)
	flat.Data = append([]*Step{}, rb.Data...)
	flat.Modules, flat.Outputs = nil, nil
	// Module steps are read under names no reference check saw: keep
	// every step value in scope.
	flat.stepRefs = nil
	l := &layout{flat: &flat, ctx: ctx, known: map[string]cty.Value{}, targets: map[string]bool{}}
	for _, t := range rb.Targets {
		l.targets[t.Type+"."+t.Name] = true
	}
	// The root's own module.M.out: the local holding M's outputs. (Done
	// in place, and idempotent: a renamed reference starts with local.)
	renameFiles(rb, func(t hcl.Traversal) hcl.Traversal {
		if t.RootName() != "module" {
			return t
		}
		return renamer("", nil)(t)
	}, true)
	steps, diags := l.lay(rb, nil, func(typ, name string) (string, string) { return typ, name })
	flat.Steps = steps
	return &flat, diags
}

type layout struct {
	flat    *Runbook
	ctx     *hcl.EvalContext
	known   map[string]cty.Value // module inputs known from variables alone
	targets map[string]bool      // the root's targets, "TYPE.NAME"
}

type targetMap func(typ, name string) (string, string)

// lay returns rb's steps with its modules' interleaved, adding their data
// and locals to l.flat. rb's expressions are already renamed for path.
func (l *layout) lay(rb *Runbook, path addrs.Module, tmap targetMap) ([]*Step, hcl.Diagnostics) {
	var out []*Step
	var diags hcl.Diagnostics
	byPos := map[int][]*Module{}
	for _, m := range rb.Modules {
		byPos[m.Pos] = append(byPos[m.Pos], m)
	}
	for i := 0; i <= len(rb.Steps); i++ {
		for _, m := range byPos[i] {
			st, d := l.call(rb, m, path, tmap)
			diags = append(diags, d...)
			out = append(out, st...)
		}
		if i < len(rb.Steps) {
			out = append(out, rb.Steps[i])
		}
	}
	return out, diags
}

// call lays out every instance of module m, called from path.
func (l *layout) call(caller *Runbook, m *Module, path addrs.Module, tmap targetMap) ([]*Step, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	type instance struct {
		call addrs.ModuleCall
		each cty.Value
	}
	var insts []instance
	if m.ForEach == nil {
		insts = []instance{{call: addrs.ModuleCall{Name: m.Name}, each: cty.NilVal}}
	} else {
		keys, each, d := l.forEach(m)
		diags = append(diags, d...)
		if d.HasErrors() {
			return nil, diags
		}
		for _, k := range keys {
			insts = append(insts, instance{call: addrs.ModuleCall{Name: m.Name, Key: k, Keyed: true}, each: each[k]})
		}
	}
	// The caller's targets the module's stand for: given in targets = {},
	// or of the same type and name.
	for _, t := range m.Child.Targets {
		typ, name := tmap(m.ModuleTarget(t.Type, t.Name))
		if !l.targets[typ+"."+name] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing module target",
				Detail: fmt.Sprintf("module %q uses target %q %q (declared at %s), and the runbook declares no target %q %q to give it. Declare it, or pass one in targets = { %q = target.%s.NAME }.",
					m.Name, t.Type, t.Name, t.DeclRange, typ, name, t.Type+"."+t.Name, t.Type),
				Subject: m.DeclRange.Ptr(),
			})
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	var steps []*Step
	outputs := map[string]hcl.Expression{}
	for _, in := range insts {
		child, d := LoadModule(m, l.flat.Sources)
		diags = append(diags, d...)
		if d.HasErrors() {
			return nil, diags
		}
		cpath := path.Child(in.call)
		prefix := cpath.String()
		ctm := func(typ, name string) (string, string) { return tmap(m.ModuleTarget(typ, name)) }
		rename := renamer(prefix, ctm)
		renameRunbook(child, rename)

		// Its variables, from the caller's inputs (or their defaults).
		given := map[string]*hcl.Attribute{}
		for _, a := range m.Inputs {
			given[a.Name] = a
		}
		for _, v := range child.Variables {
			ie := &inputExpr{v: v, each: in.each, module: m.Name, rng: m.DeclRange, local: prefix + "var." + v.Name}
			if a, ok := given[v.Name]; ok {
				ie.expr, ie.rng = a.Expr, a.Expr.Range()
			}
			name := prefix + "var." + v.Name
			l.flat.Locals = append(l.flat.Locals, &Local{Name: name, Expr: ie, DeclRange: ie.rng})
			l.learn(name, ie)
		}
		for _, loc := range child.Locals {
			loc.Name = prefix + "local." + loc.Name
			l.flat.Locals = append(l.flat.Locals, loc)
		}
		for _, d := range child.Data {
			d.Module = cpath
			d.DependsOn = append(d.DependsOn, m.DependsOn...)
			l.flat.Data = append(l.flat.Data, d)
		}
		for _, st := range child.Steps {
			st.Module = cpath
			st.DependsOn = append(st.DependsOn, m.DependsOn...)
		}
		inner, d := l.lay(child, cpath, ctm)
		diags = append(diags, d...)
		steps = append(steps, inner...)

		fields := map[string]hcl.Expression{}
		for _, o := range child.Outputs {
			fields[o.Name] = o.Value
		}
		obj := &objectExpr{fields: fields, rng: m.DeclRange}
		if in.call.Keyed {
			outputs[in.call.Key] = obj
		} else {
			outputs = nil
			l.flat.Locals = append(l.flat.Locals, &Local{Name: path.String() + "module." + m.Name, Expr: obj, DeclRange: m.DeclRange})
		}
	}
	if outputs != nil {
		l.flat.Locals = append(l.flat.Locals, &Local{Name: path.String() + "module." + m.Name, Expr: &objectExpr{fields: outputs, rng: m.DeclRange}, DeclRange: m.DeclRange})
	}
	return steps, diags
}

// forEach evaluates a module's for_each: variables and the inputs of the
// modules around it that variables decide.
func (l *layout) forEach(m *Module) ([]string, map[string]cty.Value, hcl.Diagnostics) {
	ctx := l.ctx.NewChild()
	ctx.Variables = map[string]cty.Value{"local": cty.ObjectVal(l.known)}
	v, diags := m.ForEach.Value(ctx)
	bad := func(detail string) ([]string, map[string]cty.Value, hcl.Diagnostics) {
		return nil, nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid module for_each",
			Detail: fmt.Sprintf("The for_each of module %q %s.", m.Name, detail), Subject: m.ForEach.Range().Ptr()})
	}
	if diags.HasErrors() {
		return nil, nil, diags
	}
	if v.ContainsMarked() {
		return bad("comes from a sensitive value; its keys become addresses in plans and the journal")
	}
	if !v.IsWhollyKnown() {
		// validate: no inputs yet. One instance stands for them all.
		return []string{""}, map[string]cty.Value{"": cty.ObjectVal(map[string]cty.Value{"key": cty.UnknownVal(cty.String), "value": cty.DynamicVal})}, nil
	}
	if v.IsNull() {
		return bad("is null; give a map, or a set of strings")
	}
	each := map[string]cty.Value{}
	ty := v.Type()
	switch {
	case ty.IsMapType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			k, val := it.Element()
			each[k.AsString()] = val
		}
	case ty.IsSetType() || ty.IsListType() || ty.IsTupleType():
		for it := v.ElementIterator(); it.Next(); {
			_, val := it.Element()
			s, err := convert.Convert(val, cty.String)
			if err != nil || s.IsNull() {
				return bad("holds something that is not a string; a set or list must hold strings (its keys)")
			}
			each[s.AsString()] = s
		}
	default:
		return bad(fmt.Sprintf("is a %s; give a map, or a set of strings", ty.FriendlyName()))
	}
	keys := make([]string, 0, len(each))
	for k, val := range each {
		keys = append(keys, k)
		each[k] = cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(k), "value": val})
	}
	sort.Strings(keys)
	return keys, each, nil
}

// learn keeps a module input known from variables alone, for the for_each
// of the modules it calls.
func (l *layout) learn(name string, ie *inputExpr) {
	ctx := l.ctx.NewChild()
	ctx.Variables = map[string]cty.Value{"local": cty.ObjectVal(l.known)}
	v, d := ie.Value(ctx)
	if !d.HasErrors() && v.IsWhollyKnown() {
		l.known[name] = v
	}
}

// renamer returns the function that renames a module's references to its
// instance's copies (see LayOut).
func renamer(prefix string, tmap targetMap) func(hcl.Traversal) hcl.Traversal {
	return func(t hcl.Traversal) hcl.Traversal {
		if len(t) < 2 {
			return t
		}
		root, ok := t[0].(hcl.TraverseRoot)
		if !ok {
			return t
		}
		attr := func(i int) (hcl.TraverseAttr, bool) {
			if i >= len(t) {
				return hcl.TraverseAttr{}, false
			}
			a, ok := t[i].(hcl.TraverseAttr)
			return a, ok
		}
		build := func(rootName string, names []hcl.TraverseAttr, rest hcl.Traversal) hcl.Traversal {
			out := hcl.Traversal{hcl.TraverseRoot{Name: rootName, SrcRange: root.SrcRange}}
			for _, n := range names {
				out = append(out, n)
			}
			return append(out, rest...)
		}
		switch root.Name {
		case "var", "local", "module":
			a, ok := attr(1)
			if !ok {
				return t
			}
			a.Name = prefix + root.Name + "." + a.Name
			return build("local", []hcl.TraverseAttr{a}, t[2:])
		case "step", "data":
			typ, ok1 := attr(1)
			name, ok2 := attr(2)
			if !ok1 || !ok2 {
				return t
			}
			name.Name = prefix + name.Name
			return build(root.Name, []hcl.TraverseAttr{typ, name}, t[3:])
		case "target":
			typ, ok1 := attr(1)
			name, ok2 := attr(2)
			if !ok1 || !ok2 {
				return t
			}
			typ.Name, name.Name = tmap(typ.Name, name.Name)
			return build("target", []hcl.TraverseAttr{typ, name}, t[3:])
		}
		return t
	}
}

// renameRunbook renames every reference in a module copy's expressions,
// and in the traversals taken out of them.
func renameRunbook(rb *Runbook, rename func(hcl.Traversal) hcl.Traversal) {
	renameFiles(rb, rename, false)
	for _, st := range append(append([]*Step{}, rb.Data...), rb.Steps...) {
		if st.Target != nil {
			st.Target = rename(st.Target)
		}
		for i, d := range st.DependsOn {
			st.DependsOn[i] = rename(d)
		}
	}
	for _, m := range rb.Modules {
		for i, d := range m.DependsOn {
			m.DependsOn[i] = rename(d)
		}
	}
}

// renameFiles renames the references of every expression in rb's files;
// rootOnly skips the modules' files a root runbook's Files also holds.
func renameFiles(rb *Runbook, rename func(hcl.Traversal) hcl.Traversal, rootOnly bool) {
	for name, f := range rb.Files {
		if rootOnly && strings.Contains(name, "/") {
			continue
		}
		body, ok := f.Body.(*hclsyntax.Body)
		if !ok {
			continue
		}
		hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			if e, ok := n.(*hclsyntax.ScopeTraversalExpr); ok {
				e.Traversal = rename(e.Traversal)
			}
			return nil
		})
	}
}

// inputExpr is a module variable's value: the caller's expression (with
// each, for a module with for_each, the instance's), or the variable's
// default, converted to its type.
type inputExpr struct {
	v      *Variable
	expr   hcl.Expression // nil: the default
	each   cty.Value
	module string
	rng    hcl.Range
	// local is the flat local holding the value, which the variable's
	// (renamed) validation blocks read.
	local string
}

func (e *inputExpr) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	if e.expr == nil {
		return e.v.Default, nil
	}
	if e.each != cty.NilVal {
		ctx = ctx.NewChild()
		ctx.Variables = map[string]cty.Value{"each": e.each}
	}
	v, diags := e.expr.Value(ctx)
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	conv, err := convert.Convert(v, e.v.Type)
	if err != nil {
		return cty.DynamicVal, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid module input",
			Detail:   fmt.Sprintf("module %q: %s = ... is not a valid value for the variable declared at %s: %s.", e.module, e.v.Name, e.v.DeclRange, err),
			Subject:  e.rng.Ptr(),
		})
	}
	return conv, append(diags, e.validate(ctx, conv)...)
}

// validate checks the variable's validation blocks against v, as a root
// runbook's are checked against its inputs. Their references to the
// variable read the local the value goes to: v is put there for them.
func (e *inputExpr) validate(ctx *hcl.EvalContext, v cty.Value) hcl.Diagnostics {
	if len(e.v.Validations) == 0 {
		return nil
	}
	locals := map[string]cty.Value{}
	for c := ctx; c != nil; c = c.Parent() {
		if l, ok := c.Variables["local"]; ok && l.IsKnown() && !l.IsNull() && l.Type().IsObjectType() {
			for k, x := range l.AsValueMap() {
				locals[k] = x
			}
			break
		}
	}
	locals[e.local] = v
	vctx := ctx.NewChild()
	vctx.Variables = map[string]cty.Value{"local": cty.ObjectVal(locals)}
	var diags hcl.Diagnostics
	for _, c := range e.v.Validations {
		ok, d := c.Condition.Value(vctx)
		diags = append(diags, d...)
		if d.HasErrors() || !ok.IsWhollyKnown() || ok.IsNull() {
			continue
		}
		ok, _ = ok.Unmark()
		if b, err := convert.Convert(ok, cty.Bool); err != nil || b.True() {
			continue
		}
		msg := "the validation at " + c.DeclRange.String() + " failed"
		if m, d := c.ErrorMessage.Value(vctx); !d.HasErrors() && m.IsWhollyKnown() && !m.IsNull() {
			if s, err := convert.Convert(m, cty.String); err == nil {
				s, _ = s.Unmark()
				msg = s.AsString()
			}
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid module input",
			Detail:   fmt.Sprintf("module %q: %s: %s", e.module, e.v.Name, msg),
			Subject:  e.rng.Ptr(),
		})
	}
	return diags
}

func (e *inputExpr) Variables() []hcl.Traversal {
	if e.expr == nil {
		return nil
	}
	var out []hcl.Traversal
	for _, t := range e.expr.Variables() {
		if e.each != cty.NilVal && t.RootName() == "each" {
			continue
		}
		out = append(out, t)
	}
	return out
}

func (e *inputExpr) Range() hcl.Range      { return e.rng }
func (e *inputExpr) StartRange() hcl.Range { return e.rng }

// objectExpr is an object of expressions: a module's outputs, or a
// for_each module's instances.
type objectExpr struct {
	fields map[string]hcl.Expression
	rng    hcl.Range
}

func (e *objectExpr) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	vals := make(map[string]cty.Value, len(e.fields))
	for k, x := range e.fields {
		v, d := x.Value(ctx)
		diags = append(diags, d...)
		if v == cty.NilVal {
			v = cty.DynamicVal
		}
		vals[k] = v
	}
	return cty.ObjectVal(vals), diags
}

func (e *objectExpr) Variables() []hcl.Traversal {
	keys := slices.Sorted(maps.Keys(e.fields))
	var out []hcl.Traversal
	for _, k := range keys {
		out = append(out, e.fields[k].Variables()...)
	}
	return out
}

func (e *objectExpr) Range() hcl.Range      { return e.rng }
func (e *objectExpr) StartRange() hcl.Range { return e.rng }
