package plan

import (
	"fmt"

	"github.com/rebind-dev/rebind/engine/addrs"
)

// ModuleSpan is where a module instance's blocks are in a plan: its path
// (module.NAME or module.NAME["KEY"], nested ones after their caller), its
// first and last step, and how many steps and data blocks it holds.
type ModuleSpan struct {
	Module      string
	First, Last string
	Blocks      int
}

// String says where the module begins and ends.
func (m ModuleSpan) String() string {
	if m.First == m.Last {
		return fmt.Sprintf("%s: 1 block, %s", m.Module, m.First)
	}
	return fmt.Sprintf("%s: %d blocks, from %s to %s", m.Module, m.Blocks, m.First, m.Last)
}

// Modules lists the module instances of the plan's steps, in the order
// they begin. A plan without modules has none.
func (p *Plan) Modules() []ModuleSpan {
	var out []ModuleSpan
	index := map[string]int{}
	for _, s := range p.Steps {
		st, err := addrs.ParseStep(s.Address)
		if err != nil {
			continue
		}
		for i := range st.Module {
			m := st.Module[:i+1].String()
			m = m[:len(m)-1] // without the trailing dot
			j, ok := index[m]
			if !ok {
				j = len(out)
				index[m] = j
				out = append(out, ModuleSpan{Module: m, First: s.Address})
			}
			out[j].Last = s.Address
			out[j].Blocks++
		}
	}
	return out
}

// moduleOf is the module path of a step address ("" in the root).
func moduleOf(address string) addrs.Module {
	st, err := addrs.ParseStep(address)
	if err != nil {
		return nil
	}
	return st.Module
}

// moduleMoves says which modules end and which begin between a row of
// module path from and one of path to: ends innermost first.
func moduleMoves(from, to addrs.Module) (ends, begins []string) {
	common := 0
	for common < len(from) && common < len(to) && from[common] == to[common] {
		common++
	}
	for i := len(from); i > common; i-- {
		s := from[:i].String()
		ends = append(ends, s[:len(s)-1])
	}
	for i := common + 1; i <= len(to); i++ {
		s := to[:i].String()
		begins = append(begins, s[:len(s)-1])
	}
	return ends, begins
}

// moduleLines is Modules as lines of text.
func moduleLines(p *Plan) []string {
	var out []string
	for _, m := range p.Modules() {
		out = append(out, m.String())
	}
	return out
}
