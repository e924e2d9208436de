package runbook

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// refScope says which roots a block's expressions may use.
type refScope struct {
	// roots allowed besides var, which every block may use.
	local, target, data, step, each, self, module bool
	// stepIndex is the position of the referring step in run order, -1 for
	// any other block. A step may refer only to earlier steps.
	stepIndex int
	// beforeFirst is set for a module called before any step: every
	// step is later.
	beforeFirst bool
	// self is the referring block's address, to report self-references.
	addr string
}

// checkReferences checks every reference in the runbook once all files are
// read: that it names something declared and, from a step, nothing that
// runs later.
func checkReferences(rb *Runbook, declared map[string]hcl.Range) hcl.Diagnostics {
	var diags hcl.Diagnostics
	stepPos := make(map[string]int, len(rb.Steps))
	for i, s := range rb.Steps {
		if _, dup := stepPos[s.Address()]; !dup {
			stepPos[s.Address()] = i
		}
	}
	modulePos := make(map[string]int, len(rb.Modules))
	for _, m := range rb.Modules {
		modulePos["module."+m.Name] = m.Pos
	}
	c := &refChecker{declared: declared, stepPos: stepPos, modulePos: modulePos, stepRefs: map[string]bool{}}
	defer func() { rb.stepRefs, rb.moduleRefs = c.stepRefs, c.moduleRefs }()

	for _, v := range rb.Variables {
		sc := refScope{stepIndex: -1, addr: "var." + v.Name}
		for _, chk := range v.Validations {
			diags = append(diags, c.exprs(sc, chk.Condition, chk.ErrorMessage)...)
		}
	}
	for _, l := range rb.Locals {
		sc := refScope{local: true, target: true, data: true, step: true, module: true, stepIndex: -1, addr: "local." + l.Name}
		diags = append(diags, c.exprs(sc, l.Expr)...)
	}
	for _, o := range rb.Outputs {
		sc := refScope{local: true, target: true, data: true, step: true, module: true, stepIndex: -1, addr: "output." + o.Name}
		diags = append(diags, c.exprs(sc, o.Value)...)
	}
	for _, m := range rb.Modules {
		// Its inputs are read where it runs: from earlier steps only.
		sc := refScope{local: true, target: true, data: true, step: true, module: true, each: m.ForEach != nil,
			stepIndex: m.Pos - 1, beforeFirst: m.Pos == 0, addr: "module." + m.Name}
		for _, a := range m.Inputs {
			diags = append(diags, c.exprs(sc, a.Expr)...)
		}
		diags = append(diags, c.traversals(sc, m.DependsOn)...)
		if m.ForEach != nil {
			// Its instances are laid out before anything is read.
			diags = append(diags, c.exprs(refScope{stepIndex: -1, addr: "the for_each of module." + m.Name}, m.ForEach)...)
		}
	}
	for _, t := range rb.Targets {
		sc := refScope{local: true, stepIndex: -1, addr: "target." + t.Type + "." + t.Name}
		diags = append(diags, c.traversals(sc, bodyTraversals(t.Config))...)
	}
	for _, d := range rb.Data {
		sc := refScope{local: true, target: true, data: true, step: true, module: true, self: true, stepIndex: -1, addr: d.Address()}
		diags = append(diags, c.traversals(sc, bodyTraversals(d.Config))...)
	}
	for i, s := range rb.Steps {
		if stepPos[s.Address()] != i {
			continue // a duplicate, already reported
		}
		sc := refScope{local: true, target: true, data: true, step: true, module: true, self: true, each: s.ForEach != nil, stepIndex: i, addr: s.Address()}
		// Config still holds the meta-arguments (PartialContent only hides
		// them), so this covers target, depends_on and the conditions too.
		diags = append(diags, c.traversals(sc, bodyTraversals(s.Config))...)
		if s.ForEach != nil {
			for _, t := range s.ForEach.Variables() {
				if t.RootName() == "each" {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Invalid reference to each",
						Detail:   fmt.Sprintf("The for_each of %s cannot refer to each: each is what for_each defines.", s.Address()),
						Subject:  t.SourceRange().Ptr(),
					})
				}
			}
		}
	}
	return diags
}

type refChecker struct {
	declared map[string]hcl.Range
	stepPos  map[string]int
	// modulePos is each module call's position among the steps.
	modulePos  map[string]int
	moduleRefs []hcl.Traversal
	// stepRefs records what the runbook reads of step values (see
	// Runbook.ReferencesStep).
	stepRefs map[string]bool
}

func (c *refChecker) exprs(sc refScope, exprs ...hcl.Expression) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, e := range exprs {
		diags = append(diags, c.traversals(sc, e.Variables())...)
	}
	return diags
}

func (c *refChecker) traversals(sc refScope, ts []hcl.Traversal) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, t := range ts {
		if d := c.traversal(sc, t); d != nil {
			diags = append(diags, d)
		}
	}
	return diags
}

// attrNames returns the leading attribute names after the root, up to n.
func attrNames(t hcl.Traversal, n int) []string {
	var out []string
	for _, s := range t[1:] {
		a, ok := s.(hcl.TraverseAttr)
		if !ok || len(out) == n {
			break
		}
		out = append(out, a.Name)
	}
	return out
}

func (c *refChecker) traversal(sc refScope, t hcl.Traversal) *hcl.Diagnostic {
	root := t.RootName()
	rng := t.SourceRange().Ptr()
	bad := func(summary, detail string) *hcl.Diagnostic {
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng}
	}
	allowed := map[string]bool{
		"var": true, "local": sc.local, "target": sc.target, "data": sc.data,
		"step": sc.step, "each": sc.each, "self": sc.self, "module": sc.module,
	}
	if ok, known := allowed[root]; !known {
		return bad("Invalid reference", fmt.Sprintf("%q is not something a runbook can refer to. References start with var, local, target, data, step or module, and inside a step also each (with for_each) and self.", root))
	} else if !ok {
		return bad("Invalid reference", fmt.Sprintf("%s cannot refer to %s.", sc.addr, root))
	}

	var addr, what string
	switch root {
	case "var", "local":
		names := attrNames(t, 1)
		if len(names) < 1 {
			return nil
		}
		addr = root + "." + names[0]
		what = map[string]string{"var": "variable", "local": "local"}[root]
	case "target", "data", "step":
		names := attrNames(t, 2)
		if root == "step" {
			switch len(names) {
			case 0:
				c.stepRefs["*"] = true // all of step, indexed at run time
			case 1:
				c.stepRefs[names[0]] = true // a whole type
			default:
				c.stepRefs[names[0]+"."+names[1]] = true
			}
		}
		if len(names) < 2 {
			return nil
		}
		addr = root + "." + names[0] + "." + names[1]
		what = map[string]string{"target": "target", "data": "data block", "step": "step"}[root]
	case "module":
		names := attrNames(t, 1)
		if len(names) < 1 {
			return nil
		}
		addr, what = "module."+names[0], "module"
		c.moduleRefs = append(c.moduleRefs, t)
		if pos, ok := c.modulePos[addr]; ok && sc.stepIndex >= 0 && pos > sc.stepIndex && !strings.HasPrefix(sc.addr, "module.") {
			return bad("Reference to a later module", fmt.Sprintf("%s refers to %s, which runs after it: steps and modules run in file order. Move %s below the module block.", sc.addr, addr, sc.addr))
		}
	default:
		return nil
	}
	if _, ok := c.declared[addr]; !ok {
		return bad("Reference to undeclared "+what, fmt.Sprintf("There is no %s %s in this runbook.", what, addr))
	}
	if addr == sc.addr && root != "var" {
		return bad("Self-reference", fmt.Sprintf("%s refers to itself. Inside its own conditions a step reads its values as self.observed and self.result.", sc.addr))
	}
	if root == "step" && (sc.stepIndex >= 0 && c.stepPos[addr] > sc.stepIndex || sc.beforeFirst) {
		return bad("Reference to a later step", fmt.Sprintf("%s refers to %s, which runs after it: steps run in file order, so its values are not known yet. Move %s below %s.", sc.addr, addr, sc.addr, addr))
	}
	return nil
}

// bodyTraversals returns every reference in a native-syntax body, nested
// blocks included, except on_failure's keyword. A body from another syntax
// yields none.
func bodyTraversals(b hcl.Body) []hcl.Traversal {
	body, ok := b.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	var out []hcl.Traversal
	for _, a := range inSourceOrder(body.Attributes, func(a *hclsyntax.Attribute) hcl.Range { return a.SrcRange }) {
		if a.Name == "on_failure" {
			continue // a bare keyword, not a reference
		}
		out = append(out, a.Expr.Variables()...)
	}
	for _, blk := range body.Blocks {
		out = append(out, bodyTraversals(blk.Body)...)
	}
	return out
}
