package runbook

import (
	"fmt"
	"math/big"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// fileSchema is what may appear at the top level of a runbook file.
var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "runbook", LabelNames: []string{"name"}},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "target", LabelNames: []string{"type", "name"}},
		{Type: "data", LabelNames: []string{"type", "name"}},
		{Type: "step", LabelNames: []string{"type", "name"}},
		{Type: "module", LabelNames: []string{"name"}},
		{Type: "output", LabelNames: []string{"name"}},
	},
}

var metaSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "title"},
		{Name: "description"},
		{Name: "approvals"},
		{Name: "irreversible_approvals"},
	},
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
		{Name: "sensitive"},
		{Name: "pii"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "validation"}},
}

// decoder turns parsed files into a Runbook, remembering every declaration
// so that duplicates can point at the first one.
type decoder struct {
	rb       *Runbook
	metaSeen bool
	declared map[string]hcl.Range // "var.x", "local.x", "target.t.n", "data.t.n", "step.t.n"
	// firstFile is the start of the first decoded file, where a missing
	// runbook block is reported.
	firstFile *hcl.Range
	// parseFailed is set when a file did not parse; the runbook block may
	// be in it, so its absence is not reported.
	parseFailed bool
}

func newDecoder(rb *Runbook) *decoder {
	return &decoder{rb: rb, declared: map[string]hcl.Range{}}
}

func (d *decoder) decodeFile(f *hcl.File) hcl.Diagnostics {
	if d.firstFile == nil {
		if body, ok := f.Body.(*hclsyntax.Body); ok {
			r := hcl.Range{Filename: body.SrcRange.Filename, Start: hcl.InitialPos, End: hcl.InitialPos}
			d.firstFile = &r
		}
	}
	content, diags := f.Body.Content(fileSchema)
	for _, b := range content.Blocks {
		switch b.Type {
		case "runbook":
			diags = append(diags, d.decodeMeta(b)...)
		case "variable":
			diags = append(diags, d.decodeVariable(b)...)
		case "locals":
			diags = append(diags, d.decodeLocals(b)...)
		case "target":
			diags = append(diags, d.decodeTarget(b)...)
		case "data", "step":
			diags = append(diags, d.decodeStep(b)...)
		case "module":
			diags = append(diags, d.decodeModule(b)...)
		case "output":
			diags = append(diags, d.decodeOutput(b)...)
		}
	}
	return diags
}

// finish runs the checks that need every file: the runbook block's
// presence and the references between blocks.
func (d *decoder) finish() hcl.Diagnostics {
	var diags hcl.Diagnostics
	if !d.metaSeen && d.firstFile != nil && !d.parseFailed && d.rb.module == "" {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing runbook block",
			Detail:   `A runbook needs exactly one runbook "NAME" {} block naming it and saying how many approvals its plans need.`,
			Subject:  d.firstFile,
		})
	}
	diags = append(diags, checkReferences(d.rb, d.declared)...)
	return diags
}

// declare records a name, or reports it as a duplicate of an earlier one.
// The summary names the block, e.g. `Duplicate step "entra_user" "bound"`.
func (d *decoder) declare(addr, summary string, rng hcl.Range) hcl.Diagnostics {
	if prev, ok := d.declared[addr]; ok {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  summary,
			Detail:   fmt.Sprintf("%s was already declared at %s. Each name may be declared only once in a runbook.", addr, prev),
			Subject:  rng.Ptr(),
		}}
	}
	d.declared[addr] = rng
	return nil
}

// checkName reports a label that is not an HCL identifier, so that it can be
// used in references such as step.TYPE.NAME.
func checkName(name, what string, rng hcl.Range) hcl.Diagnostics {
	if hclsyntax.ValidIdentifier(name) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid " + what,
		Detail: fmt.Sprintf("%q is not a valid %s. A name must start with a letter or underscore and may contain only letters, digits, underscores and dashes, so that it can be referred to.",
			name, what),
		Subject: rng.Ptr(),
	}}
}

func (d *decoder) decodeMeta(b *hcl.Block) hcl.Diagnostics {
	if d.metaSeen {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Duplicate runbook block",
			Detail:   fmt.Sprintf("The runbook block was already given at %s. A runbook has exactly one runbook block, in any of its files.", d.rb.Meta.DeclRange),
			Subject:  b.DefRange.Ptr(),
		}}
	}
	d.metaSeen = true
	m := &Meta{Name: b.Labels[0], DeclRange: b.DefRange}
	d.rb.Meta = m
	diags := checkName(m.Name, "runbook name", b.LabelRanges[0])
	content, cDiags := b.Body.Content(metaSchema)
	diags = append(diags, cDiags...)
	if a, ok := content.Attributes["title"]; ok {
		diags = append(diags, constString(a, &m.Title)...)
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, constString(a, &m.Description)...)
	}
	if a, ok := content.Attributes["approvals"]; ok {
		diags = append(diags, constCount(a, &m.Approvals)...)
	}
	if a, ok := content.Attributes["irreversible_approvals"]; ok {
		diags = append(diags, constCount(a, &m.IrreversibleApprovals)...)
	}
	return diags
}

func (d *decoder) decodeVariable(b *hcl.Block) hcl.Diagnostics {
	v := &Variable{Name: b.Labels[0], Type: cty.DynamicPseudoType, DeclRange: b.DefRange}
	diags := checkName(v.Name, "variable name", b.LabelRanges[0])
	diags = append(diags, d.declare("var."+v.Name, fmt.Sprintf("Duplicate variable %q", v.Name), b.DefRange)...)
	d.rb.Variables = append(d.rb.Variables, v)

	content, cDiags := b.Body.Content(variableSchema)
	diags = append(diags, cDiags...)
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, constString(a, &v.Description)...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		diags = append(diags, constBool(a, &v.Sensitive)...)
	}
	if a, ok := content.Attributes["pii"]; ok {
		diags = append(diags, constBool(a, &v.PII)...)
	}
	typeOK := true
	if a, ok := content.Attributes["type"]; ok {
		ty, tDiags := typeexpr.TypeConstraint(a.Expr)
		diags = append(diags, tDiags...)
		if tDiags.HasErrors() {
			typeOK = false
		} else {
			v.Type = ty
		}
	}
	if a, ok := content.Attributes["default"]; ok {
		val, vDiags := a.Expr.Value(nil)
		diags = append(diags, vDiags...)
		if !vDiags.HasErrors() && typeOK {
			conv, err := convert.Convert(val, v.Type)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid default value",
					Detail: fmt.Sprintf("The default value of variable %q does not match its type %s: %s.",
						v.Name, typeexpr.TypeString(v.Type), err),
					Subject: a.Expr.Range().Ptr(),
				})
			} else {
				v.Default = conv
			}
		}
	}
	for _, vb := range content.Blocks {
		c, cDiags := decodeCheck(vb)
		diags = append(diags, cDiags...)
		if c == nil {
			continue
		}
		diags = append(diags, checkValidationRefs(v.Name, c)...)
		v.Validations = append(v.Validations, c)
	}
	return diags
}

func (d *decoder) decodeLocals(b *hcl.Block) hcl.Diagnostics {
	attrs, diags := b.Body.JustAttributes()
	for _, a := range inSourceOrder(attrs, func(a *hcl.Attribute) hcl.Range { return a.Range }) {
		diags = append(diags, d.declare("local."+a.Name, fmt.Sprintf("Duplicate local %q", a.Name), a.NameRange)...)
		d.rb.Locals = append(d.rb.Locals, &Local{Name: a.Name, Expr: a.Expr, DeclRange: a.Range})
	}
	return diags
}

func (d *decoder) decodeTarget(b *hcl.Block) hcl.Diagnostics {
	t := &Target{Type: b.Labels[0], Name: b.Labels[1], Config: b.Body, DeclRange: b.DefRange, TypeRange: b.LabelRanges[0]}
	diags := checkName(t.Type, "target type", b.LabelRanges[0])
	diags = append(diags, checkName(t.Name, "target name", b.LabelRanges[1])...)
	diags = append(diags, d.declare("target."+t.Type+"."+t.Name, fmt.Sprintf("Duplicate target %q %q", t.Type, t.Name), b.DefRange)...)
	d.rb.Targets = append(d.rb.Targets, t)
	return diags
}

// inSourceOrder returns the attributes of attrs (HCL gives a body's
// attributes as a map) in the order they stand in the source, where begins
// says where one starts: diagnostics and values follow the file.
func inSourceOrder[A any](attrs map[string]A, begins func(A) hcl.Range) []A {
	out := make([]A, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return begins(out[i]).Start.Byte < begins(out[j]).Start.Byte })
	return out
}

// constValue evaluates an attribute that must be a constant of type ty.
func constValue(a *hcl.Attribute, ty cty.Type) (cty.Value, hcl.Diagnostics) {
	val, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	conv, err := convert.Convert(val, ty)
	if err == nil && conv.IsNull() {
		err = fmt.Errorf("a value is required")
	}
	if err != nil {
		return cty.NilVal, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for " + a.Name,
			Detail:   fmt.Sprintf("The %s argument must be a %s: %s.", a.Name, ty.FriendlyName(), err),
			Subject:  a.Expr.Range().Ptr(),
		}}
	}
	return conv, nil
}

func constString(a *hcl.Attribute, dst *string) hcl.Diagnostics {
	v, diags := constValue(a, cty.String)
	if v != cty.NilVal {
		*dst = v.AsString()
	}
	return diags
}

func constBool(a *hcl.Attribute, dst *bool) hcl.Diagnostics {
	v, diags := constValue(a, cty.Bool)
	if v != cty.NilVal {
		*dst = v.True()
	}
	return diags
}

// constCount reads a whole number from 0 up to 1000.
func constCount(a *hcl.Attribute, dst *int) hcl.Diagnostics {
	v, diags := constValue(a, cty.Number)
	if v == cty.NilVal {
		return diags
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() || bf.Sign() < 0 || bf.Cmp(big.NewFloat(1000)) > 0 {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for " + a.Name,
			Detail:   fmt.Sprintf("The %s argument must be a whole number from 0 to 1000, not %s.", a.Name, bf.Text('g', -1)),
			Subject:  a.Expr.Range().Ptr(),
		}}
	}
	n, _ := bf.Int64()
	*dst = int(n)
	return nil
}
