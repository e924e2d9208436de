// Package addrs is the typed form of the addresses rebind gives what a
// runbook declares and what a run records: a step or data block
// (step.TYPE.NAME, data.TYPE.NAME), an instance of a fan-out (a key in
// brackets, quoted as Go quotes a string: step.T.N["k"]), and the module
// calls it sits in (module.NAME. or module.NAME["k"]., nested), as
// Terraform's internal/addrs does for resources and module instances
// (developer.hashicorp.com/terraform/cli/state/resource-addressing).
//
// Plans, the journal and the command line carry addresses as strings;
// this package is the one place that takes them apart and puts them
// together.
package addrs

import (
	"fmt"
	"strconv"
	"strings"
)

// Mode tells a step from a data block.
type Mode string

const (
	// StepMode is a `step` block.
	StepMode Mode = "step"
	// DataMode is a `data` block.
	DataMode Mode = "data"
)

// ModuleCall is one `module.NAME` or `module.NAME["KEY"]` of a path.
type ModuleCall struct {
	Name string
	// Key is the instance key of a module called with for_each; Keyed
	// tells a key "" from no key.
	Key   string
	Keyed bool
}

// Module is the path of module instances a block sits in, outermost
// first; empty for the root runbook.
type Module []ModuleCall

// String is the path as an address prefix, ending with a dot: `module.a.`,
// `module.a["k"].module.b.`; "" for the root.
func (m Module) String() string {
	var b strings.Builder
	for _, c := range m {
		b.WriteString("module.")
		b.WriteString(c.Name)
		if c.Keyed {
			b.WriteString("[")
			b.WriteString(strconv.Quote(c.Key))
			b.WriteString("]")
		}
		b.WriteString(".")
	}
	return b.String()
}

// Child is m with call appended (a copy: m is not changed).
func (m Module) Child(call ModuleCall) Module {
	out := make(Module, len(m), len(m)+1)
	copy(out, m)
	return append(out, call)
}

// Equal reports whether two paths name the same module instance.
func (m Module) Equal(o Module) bool {
	if len(m) != len(o) {
		return false
	}
	for i := range m {
		if m[i] != o[i] {
			return false
		}
	}
	return true
}

// Step is a step or data block: every instance of a fan-out.
type Step struct {
	Module Module
	Mode   Mode
	Type   string
	Name   string
}

// String is `MODULE.step.TYPE.NAME`.
func (s Step) String() string {
	return s.Module.String() + string(s.Mode) + "." + s.Type + "." + s.Name
}

// Instance is the address of one of the step's instances: keyed for a
// fan-out, the step itself otherwise.
func (s Step) Instance(key string, keyed bool) Instance {
	return Instance{Step: s, Key: key, Keyed: keyed}
}

// Instance is one instance of a step: `step.T.N` or `step.T.N["k"]`.
type Instance struct {
	Step  Step
	Key   string
	Keyed bool
}

// String formats the instance as plans and the journal write it.
func (i Instance) String() string {
	if !i.Keyed {
		return i.Step.String()
	}
	return Keyed(i.Step.String(), i.Key)
}

// Keyed is the address of instance key of the step at step (a formatted
// Step): step + `["key"]`.
func Keyed(step, key string) string {
	return step + "[" + strconv.Quote(key) + "]"
}

// Compare orders instances as their addresses sort: -1, 0 or 1.
func (i Instance) Compare(o Instance) int {
	return strings.Compare(i.String(), o.String())
}

// ParseInstance reads an instance address (a step address, with or without
// a key). The error says what is wrong and where.
func ParseInstance(s string) (Instance, error) {
	p := parser{s: s}
	in, err := p.instance()
	if err != nil {
		return Instance{}, fmt.Errorf("address %q: %w", s, err)
	}
	return in, nil
}

// ParseStep reads a step address without an instance key.
func ParseStep(s string) (Step, error) {
	in, err := ParseInstance(s)
	if err != nil {
		return Step{}, err
	}
	if in.Keyed {
		return Step{}, fmt.Errorf("address %q: names an instance of %s, not the step", s, in.Step)
	}
	return in.Step, nil
}

// StepOf is the step of the instance at address s, or s itself when it is
// not an address (so that a caller grouping by step keeps such a string
// apart rather than losing it).
func StepOf(s string) string {
	in, err := ParseInstance(s)
	if err != nil {
		return s
	}
	return in.Step.String()
}

// TypeOf is the step type of the instance at address s, "" when s is not
// an address.
func TypeOf(s string) string {
	in, err := ParseInstance(s)
	if err != nil {
		return ""
	}
	return in.Step.Type
}

type parser struct {
	s   string
	pos int
}

func (p *parser) instance() (Instance, error) {
	var in Instance
	for strings.HasPrefix(p.s[p.pos:], "module.") {
		p.pos += len("module.")
		name, err := p.name("module name")
		if err != nil {
			return in, err
		}
		call := ModuleCall{Name: name}
		if p.peek('[') {
			call.Key, err = p.key()
			if err != nil {
				return in, err
			}
			call.Keyed = true
		}
		if err := p.expect('.'); err != nil {
			return in, err
		}
		in.Step.Module = append(in.Step.Module, call)
	}
	mode, err := p.name("step or data")
	if err != nil {
		return in, err
	}
	switch Mode(mode) {
	case StepMode, DataMode:
		in.Step.Mode = Mode(mode)
	default:
		return in, fmt.Errorf("at offset %d: %q is neither step, data nor module", p.pos-len(mode), mode)
	}
	if err := p.expect('.'); err != nil {
		return in, err
	}
	if in.Step.Type, err = p.name("type"); err != nil {
		return in, err
	}
	if err := p.expect('.'); err != nil {
		return in, err
	}
	if in.Step.Name, err = p.name("name"); err != nil {
		return in, err
	}
	if p.peek('[') {
		if in.Key, err = p.key(); err != nil {
			return in, err
		}
		in.Keyed = true
	}
	if p.pos != len(p.s) {
		return in, fmt.Errorf("at offset %d: unexpected %q after the address", p.pos, p.s[p.pos:])
	}
	return in, nil
}

// name reads an HCL identifier: a letter or underscore, then letters,
// digits, underscores and dashes.
func (p *parser) name(what string) (string, error) {
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 ||
			p.pos > start && (c == '-' || c >= '0' && c <= '9')
		if !ok {
			break
		}
		p.pos++
	}
	if p.pos == start {
		return "", fmt.Errorf("at offset %d: expected a %s", start, what)
	}
	return p.s[start:p.pos], nil
}

func (p *parser) peek(c byte) bool { return p.pos < len(p.s) && p.s[p.pos] == c }

func (p *parser) expect(c byte) error {
	if !p.peek(c) {
		return fmt.Errorf("at offset %d: expected %q", p.pos, c)
	}
	p.pos++
	return nil
}

// key reads `["..."]`, the key quoted as Go quotes a string.
func (p *parser) key() (string, error) {
	p.pos++ // [
	q, err := strconv.QuotedPrefix(p.s[p.pos:])
	if err != nil || q[0] != '"' {
		return "", fmt.Errorf("at offset %d: expected a quoted key", p.pos)
	}
	k, err := strconv.Unquote(q)
	if err != nil {
		return "", fmt.Errorf("at offset %d: %v", p.pos, err)
	}
	p.pos += len(q)
	if err := p.expect(']'); err != nil {
		return "", err
	}
	return k, nil
}
