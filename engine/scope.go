package engine

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// scope holds every value known so far while a runbook is planned or run,
// and builds the hcl.EvalContext expressions are evaluated in:
//
//	var.NAME, local.NAME, target.TYPE.NAME, data.TYPE.NAME,
//	step.TYPE.NAME (an object {observed, result, action}, or for a fan-out an
//	object of those keyed by each.key), each.key / each.value inside a
//	fan-out, self.observed / self.result inside conditions.
//
// At plan time a step that has not run is cty.DynamicVal (unknown), so
// anything derived from it is unknown too and its use is deferred to apply.
type scope struct {
	funcs map[string]function.Function

	mu      sync.Mutex
	vars    map[string]cty.Value
	locals  map[string]cty.Value
	targets map[string]map[string]cty.Value
	data    map[string]map[string]cty.Value
	steps   map[string]map[string]cty.Value
	cached  *hcl.EvalContext
	// objs caches each top-level object ("var", "step", ...) and typeObjs
	// each step type's object, so that a step finishing rebuilds only its
	// own type's object, not every value in scope.
	objs     map[string]cty.Value
	typeObjs map[string]cty.Value
	// readsStep, when set, says which step values some expression reads;
	// only those enter the context. A runbook of a thousand steps that
	// never refer to each other then does not rebuild a thousand-attribute
	// object after every step.
	readsStep func(typ, name string) bool
}

func newScope(funcs map[string]function.Function) *scope {
	return &scope{
		funcs:    funcs,
		vars:     map[string]cty.Value{},
		locals:   map[string]cty.Value{},
		targets:  map[string]map[string]cty.Value{},
		data:     map[string]map[string]cty.Value{},
		steps:    map[string]map[string]cty.Value{},
		objs:     map[string]cty.Value{},
		typeObjs: map[string]cty.Value{},
	}
}

func (s *scope) setVar(name string, v cty.Value) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vars[name] = v
	s.cached = nil
	delete(s.objs, "var")
}

func (s *scope) setLocal(name string, v cty.Value) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.locals[name] = v
	s.cached = nil
	delete(s.objs, "local")
}

func (s *scope) set(tab map[string]map[string]cty.Value, root, typ, name string, v cty.Value) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if root == "step" && s.readsStep != nil && !s.readsStep(typ, name) {
		return // no expression reads it
	}
	if tab[typ] == nil {
		tab[typ] = map[string]cty.Value{}
	}
	tab[typ][name] = v
	s.cached = nil
	delete(s.objs, root)
	delete(s.typeObjs, root+"."+typ)
}

func (s *scope) setTarget(typ, name string, v cty.Value) { s.set(s.targets, "target", typ, name, v) }
func (s *scope) setData(typ, name string, v cty.Value)   { s.set(s.data, "data", typ, name, v) }
func (s *scope) setStep(typ, name string, v cty.Value)   { s.set(s.steps, "step", typ, name, v) }

// getData returns a data block's value, cty.NilVal when not read.
func (s *scope) getData(typ, name string) cty.Value {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data[typ][name]
}

// ctx returns the shared evaluation context. Callers must not modify it; use
// child for each/self.
func (s *scope) ctx() *hcl.EvalContext {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached != nil {
		return s.cached
	}
	vars := s.rootsLocked()
	vars["local"] = s.flatLocked("local", s.locals)
	s.cached = &hcl.EvalContext{Variables: vars, Functions: s.funcs}
	return s.cached
}

// ctxReading returns a context for an expression that reads refs: the
// shared one's values, with local holding only the locals refs name.
// Locals are evaluated one after another, each set before the next is
// read; through ctx, each one rebuilt the object of every local set so
// far, and 18,000 locals took 25 s. A reference that names no single
// local (local[var.k]) gets them all.
func (s *scope) ctxReading(refs []hcl.Traversal) *hcl.EvalContext {
	names := map[string]bool{}
	for _, r := range refs {
		if r.RootName() != "local" {
			continue
		}
		name := ""
		if len(r) > 1 {
			switch step := r[1].(type) {
			case hcl.TraverseAttr:
				name = step.Name
			case hcl.TraverseIndex:
				if step.Key.Type() == cty.String && step.Key.IsKnown() && !step.Key.IsNull() {
					name = step.Key.AsString()
				}
			}
		}
		if name == "" {
			return s.ctx()
		}
		names[name] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	locals := make(map[string]cty.Value, len(names))
	for n := range names {
		if v, ok := s.locals[n]; ok {
			locals[n] = v
		}
	}
	vars := s.rootsLocked()
	vars["local"] = cty.ObjectVal(locals)
	return &hcl.EvalContext{Variables: vars, Functions: s.funcs}
}

// rootsLocked returns var, target, data and step, from the caches when
// they hold them. s.mu must be held.
func (s *scope) rootsLocked() map[string]cty.Value {
	return map[string]cty.Value{
		"var":    s.flatLocked("var", s.vars),
		"target": s.nestedLocked("target", s.targets),
		"data":   s.nestedLocked("data", s.data),
		"step":   s.nestedLocked("step", s.steps),
	}
}

// flatLocked is the object of m, cached as root. s.mu must be held.
func (s *scope) flatLocked(root string, m map[string]cty.Value) cty.Value {
	if v, ok := s.objs[root]; ok {
		return v
	}
	v := cty.ObjectVal(m)
	s.objs[root] = v
	return v
}

// nestedLocked is the object of objects of tab (type -> name -> value),
// cached as root and by type. s.mu must be held.
func (s *scope) nestedLocked(root string, tab map[string]map[string]cty.Value) cty.Value {
	if v, ok := s.objs[root]; ok {
		return v
	}
	outer := map[string]cty.Value{}
	for typ, names := range tab {
		key := root + "." + typ
		obj, ok := s.typeObjs[key]
		if !ok {
			obj = cty.ObjectVal(names)
			s.typeObjs[key] = obj
		}
		outer[typ] = obj
	}
	v := cty.ObjectVal(outer)
	s.objs[root] = v
	return v
}

// child returns a context with each and/or self added.
func (s *scope) child(each, self cty.Value) *hcl.EvalContext {
	c := s.ctx().NewChild()
	c.Variables = map[string]cty.Value{}
	if each != cty.NilVal {
		c.Variables["each"] = each
	}
	if self != cty.NilVal {
		c.Variables["self"] = self
	}
	return c
}

// eachValue builds the `each` object for a fan-out instance.
func eachValue(key string, v cty.Value) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(key), "value": v})
}

// instanceValue is what a step instance looks like to later expressions.
func instanceValue(observed, result cty.Value, action string) cty.Value {
	if observed == cty.NilVal {
		observed = cty.NullVal(cty.DynamicPseudoType)
	}
	if result == cty.NilVal {
		result = cty.NullVal(cty.DynamicPseudoType)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"observed": observed,
		"result":   result,
		"action":   cty.StringVal(action),
	})
}

// node is one of the blocks evaluated before steps: a local, a target or a
// data block, ordered by their references.
type node struct {
	addr string // "local.x", "target.ad.corp", "data.ad_user.new"
	refs []hcl.Traversal
	rng  hcl.Range
}

// refAddr maps a traversal to the address of the node it refers to, or "".
func refAddr(t hcl.Traversal) string {
	root := t.RootName()
	parts := []string{root}
	for _, step := range t[1:] {
		a, ok := step.(hcl.TraverseAttr)
		if !ok {
			break
		}
		parts = append(parts, a.Name)
	}
	switch root {
	case "local":
		if len(parts) >= 2 {
			return "local." + parts[1]
		}
	case "target", "data", "step":
		if len(parts) >= 3 {
			return root + "." + parts[1] + "." + parts[2]
		}
	}
	return ""
}

// order sorts nodes so that each comes after what it refers to; a cycle is
// an error naming its members. Ties keep declaration order.
func order(nodes []node) ([]node, hcl.Diagnostics) {
	index := map[string]int{}
	for i, n := range nodes {
		index[n.addr] = i
	}
	const (
		white = iota
		grey
		black
	)
	colour := make([]int, len(nodes))
	var out []node
	var diags hcl.Diagnostics
	var visit func(i int, path []string) bool
	visit = func(i int, path []string) bool {
		switch colour[i] {
		case black:
			return true
		case grey:
			cycle := append(append([]string{}, path...), nodes[i].addr)
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Reference cycle",
				Detail:   fmt.Sprintf("These blocks refer to each other in a circle: %v. Break the cycle.", cycle),
				Subject:  nodes[i].rng.Ptr(),
			})
			return false
		}
		colour[i] = grey
		deps := map[int]bool{}
		for _, r := range nodes[i].refs {
			if j, ok := index[refAddr(r)]; ok && j != i {
				deps[j] = true
			} else if ok && j == i {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Self-reference",
					Detail:   fmt.Sprintf("%s refers to itself.", nodes[i].addr),
					Subject:  r.SourceRange().Ptr(),
				})
				return false
			}
		}
		for _, j := range slices.Sorted(maps.Keys(deps)) {
			if !visit(j, append(path, nodes[i].addr)) {
				return false
			}
		}
		colour[i] = black
		out = append(out, nodes[i])
		return true
	}
	for i := range nodes {
		if colour[i] == white && !visit(i, nil) {
			return nil, diags
		}
	}
	return out, diags
}
