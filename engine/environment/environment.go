// Package environment reads rebind's environment files: the targets a
// runbook runs against, kept outside the runbook so that one runbook runs
// unchanged against a lab, a test tenant and production.
//
// An environment file is HCL holding only target blocks:
//
//	target "ad" "corp" {
//	  url     = "ldaps://dc01.corp.example.com"
//	  base_dn = "DC=corp,DC=example,DC=com"
//	}
//
// A runbook declares the targets it needs by type and name (`target "ad"
// "corp" {}`); the engine finds each in the environment by both labels.
// Settings are literal values (no variables, no functions): the file
// describes where things are, and a plan records them. Credentials are never
// settings: they come from the process environment (azidentity's variables,
// REBIND_AD_BIND_DN / REBIND_AD_PASSWORD), so an environment file can be
// checked in and shown in a plan.
package environment

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/internal/mapkeys"
)

// MaxSize is the largest environment file rebind reads: it is code, like a
// runbook, and parsed by the same parser.
const MaxSize = runbook.MaxRunbookSize

// Environment is a parsed environment file.
type Environment struct {
	// Path is the file as the user named it.
	Path string
	// File is the parsed file, for diagnostics' source snippets.
	File *hcl.File
	// Targets in file order.
	Targets []*Target
}

// Target is one `target "TYPE" "NAME" {}` block of an environment.
type Target struct {
	Type, Name string
	// Attrs are the block's settings, by name, with their ranges.
	Attrs hcl.Attributes
	// Values are the settings' literal values.
	Values map[string]cty.Value
	// Body is the block's body, for decoding with the runbook's.
	Body      hcl.Body
	DeclRange hcl.Range
	TypeRange hcl.Range
}

// Key is "TYPE.NAME".
func (t *Target) Key() string { return t.Type + "." + t.Name }

// Lookup returns the target with both labels, or nil.
func (e *Environment) Lookup(typ, name string) *Target {
	for _, t := range e.Targets {
		if t.Type == typ && t.Name == name {
			return t
		}
	}
	return nil
}

// Load reads and parses the environment file at path.
func Load(path string) (*Environment, hcl.Diagnostics) {
	src, err := runbook.ReadFile(path, MaxSize)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read the environment file",
			Detail: fmt.Sprintf("%s: %v", path, err)}}
	}
	return Parse(src, path)
}

var fileSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "target", LabelNames: []string{"type", "name"}}}}

// Parse parses an environment file's text; filename names it in
// diagnostics.
func Parse(src []byte, filename string) (*Environment, hcl.Diagnostics) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	env := &Environment{Path: filename, File: f}
	content, d := f.Body.Content(fileSchema)
	for _, x := range d {
		// hcl says "Unsupported block type" / "Unsupported argument"; say
		// what an environment may hold.
		x.Detail = "An environment file holds only target \"TYPE\" \"NAME\" { ... } blocks. " + x.Detail
	}
	diags = append(diags, d...)
	seen := map[string]hcl.Range{}
	for _, b := range content.Blocks {
		t := &Target{Type: b.Labels[0], Name: b.Labels[1], Body: b.Body, DeclRange: b.DefRange, TypeRange: b.LabelRanges[0], Values: map[string]cty.Value{}}
		if prev, dup := seen[t.Key()]; dup {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate target",
				Detail:  fmt.Sprintf("target %q %q is already declared at %s.", t.Type, t.Name, prev),
				Subject: b.DefRange.Ptr()})
			continue
		}
		seen[t.Key()] = b.DefRange
		attrs, d := b.Body.JustAttributes()
		diags = append(diags, d...)
		t.Attrs = attrs
		for name, a := range attrs {
			if vars := a.Expr.Variables(); len(vars) > 0 {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Not a literal value",
					Detail:  fmt.Sprintf("The setting %q of target %q %q refers to %s. Environment settings are literal values: an environment describes where things are, and a runbook's variables do not reach it.", name, t.Type, t.Name, rangeName(vars[0])),
					Subject: a.Expr.Range().Ptr()})
				continue
			}
			v, d := a.Expr.Value(nil)
			if d.HasErrors() {
				for _, x := range d {
					x.Detail += " Environment settings are literal values; functions are not available."
				}
			}
			diags = append(diags, d...)
			if !d.HasErrors() {
				t.Values[name] = v
			}
		}
		env.Targets = append(env.Targets, t)
	}
	return env, diags
}

func rangeName(t hcl.Traversal) string {
	name := t.RootName()
	for _, st := range t[1:] {
		if a, ok := st.(hcl.TraverseAttr); ok {
			name += "." + a.Name
		}
	}
	return fmt.Sprintf("%q", name)
}

// Settings are the settings an environment gives the targets a runbook
// uses, as a plan records them: by "TYPE.NAME", then setting name, each
// value as JSON. Only settings, never credentials, are in an environment.
type Settings map[string]map[string]json.RawMessage

// SettingsFor returns the environment's settings of the targets named by
// keys ("TYPE.NAME"); a key the environment does not hold is left out.
func (e *Environment) SettingsFor(keys []string) Settings {
	out := Settings{}
	if e == nil {
		return out
	}
	for _, k := range keys {
		for _, t := range e.Targets {
			if t.Key() != k {
				continue
			}
			m := map[string]json.RawMessage{}
			for name, v := range t.Values {
				m[name] = encode(v)
			}
			out[k] = m
		}
	}
	return out
}

func encode(v cty.Value) json.RawMessage {
	b, err := ctyjson.Marshal(v, cty.DynamicPseudoType)
	if err != nil {
		return json.RawMessage(fmt.Sprintf("%q", v.GoString()))
	}
	// {"value":...,"type":...}: keep both, so 1 and "1" differ.
	return b
}

// Digest is the hex SHA-256 over the settings in a fixed order.
func (s Settings) Digest() string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(s)) {
		fmt.Fprintf(h, "target %q\n", k)
		for _, name := range slices.Sorted(maps.Keys(s[k])) {
			fmt.Fprintf(h, "%q=%s\n", name, s[k][name])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Difference is one setting that differs between two Settings.
type Difference struct {
	Target, Setting string
	// Was and Now are the JSON values, "" when absent.
	Was, Now string
}

// Compare lists the settings that differ from was to now, by target and
// setting name.
func Compare(was, now Settings) []Difference {
	var out []Difference
	for _, k := range mapkeys.Union(was, now) {
		for _, n := range mapkeys.Union(was[k], now[k]) {
			a, b := shown(was[k][n]), shown(now[k][n])
			if a != b {
				out = append(out, Difference{Target: k, Setting: n, Was: a, Now: b})
			}
		}
	}
	return out
}

// shown is a recorded value as people read it: the value without its type.
func shown(raw json.RawMessage) string {
	if raw == nil {
		return ""
	}
	var v struct {
		Value json.RawMessage `json:"value"`
		Type  json.RawMessage `json:"type"`
	}
	if json.Unmarshal(raw, &v) == nil && v.Value != nil {
		var b bytes.Buffer
		if json.Compact(&b, v.Value) == nil {
			return b.String() + typeSuffix(v.Type)
		}
	}
	return string(raw)
}

// typeSuffix keeps 1 and "1" apart in a comparison without cluttering the
// common case.
func typeSuffix(t json.RawMessage) string {
	switch string(t) {
	case `"string"`, `"bool"`, `"number"`:
		return ""
	}
	return " (" + string(t) + ")"
}
