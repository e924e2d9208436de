package approval

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/internal/mapkeys"
)

// ignored are the top-level plan fields a fresh plan cannot reproduce:
// when and by whom it was made, and the signatures. The lab binding is
// checked by the caller, which decides what apply runs against, and so is
// the environment (engine.checkEnvironment, setting by setting, before
// anything is opened; its file name may differ).
var ignored = map[string]bool{
	"format_version": true, "created": true, "expires": true, "author": true,
	"author_key": true, "signatures": true, "lab": true, "environment": true,
}

// Compare lists every field of the reviewed plan that differs from a
// fresh plan of the same runbook with the same inputs. The caller first
// reports drift (an observed object that changed since review, and what
// follows from it); with no drift, the two plans must agree on every
// field a reviewer saw, or the reviewed plan was altered.
func Compare(reviewed, fresh *plan.Plan) []Mismatch {
	a, b := tree(reviewed), tree(fresh)
	var ms []Mismatch
	for _, k := range mapkeys.Union(a, b) {
		if ignored[k] {
			continue
		}
		diffTree(k, a[k], b[k], &ms)
	}
	return ms
}

// tree is a plan as generic JSON.
func tree(p *plan.Plan) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(p.CanonicalBytes(), &m); err != nil {
		panic(fmt.Sprintf("approval: plan JSON: %v", err))
	}
	return m
}

// diffTree appends a Mismatch for each leaf (or whole subtree of another
// shape) that differs between a and b.
func diffTree(path string, a, b any, ms *[]Mismatch) {
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			for _, k := range mapkeys.Union(av, bv) {
				diffTree(path+"."+k, av[k], bv[k], ms)
			}
			return
		}
	case []any:
		if bv, ok := b.([]any); ok && len(av) == len(bv) {
			for i := range av {
				diffTree(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i], ms)
			}
			return
		}
	}
	if sa, sb := show(a), show(b); sa != sb {
		*ms = append(*ms, Mismatch{Field: path, Plan: sa, Want: "planned again now it is " + sb})
	}
}

// show is a value as JSON, cut to a readable length.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if s == "null" {
		return "nothing"
	}
	const limit = 120
	if len(s) > limit {
		s = strings.ToValidUTF8(s[:limit], "") + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return s
}
