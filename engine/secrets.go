package engine

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"

	"github.com/rebind-dev/rebind/engine/lang"
)

// redacted replaces secrets in stored values.
const redacted = "(sensitive)"

// secretStrings collects the string values in v that carry a sensitive mark:
// the secrets themselves, so that any value a step returns can be scrubbed of
// them before it reaches a plan or the journal, whatever attribute it sits in.
func secretStrings(v cty.Value) []string {
	var out []string
	_ = cty.Walk(v, func(_ cty.Path, x cty.Value) (bool, error) {
		if !lang.HasSensitive(x) {
			return true, nil
		}
		u, _ := x.UnmarkDeep()
		if u.IsKnown() && !u.IsNull() && u.Type() == cty.String && u.AsString() != "" {
			out = append(out, u.AsString())
		}
		return true, nil
	})
	return out
}

// scrub replaces every string that contains one of secrets by "(sensitive)".
// It reports whether anything was replaced.
func scrub(v cty.Value, secrets []string) (cty.Value, bool) {
	if len(secrets) == 0 || v == cty.NilVal {
		return v, false
	}
	changed := false
	out, _ := cty.Transform(v, func(_ cty.Path, x cty.Value) (cty.Value, error) {
		u, marks := x.Unmark()
		if !u.IsKnown() || u.IsNull() || u.Type() != cty.String {
			return x, nil
		}
		s := u.AsString()
		for _, sec := range secrets {
			if strings.Contains(s, sec) {
				changed = true
				return cty.StringVal(redacted).WithMarks(marks), nil
			}
		}
		return x, nil
	})
	return out, changed
}

// safeObject is an object's name as a plan, the journal and the lock table
// may keep it: when the name contains a secret (a path or key built from a
// sensitive variable) it is replaced by a keyed digest of itself, which
// still locks the same object without saying what it is, and which no one
// without the state directory's key can test guesses against.
func (s *session) safeObject(name string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" && strings.Contains(name, sec) {
			s.keyed.Store(true)
			return "(sensitive object " + s.e.mac([]byte("object\x00" + name))[:16] + ")"
		}
	}
	return name
}

// key is the engine's secret key, made at random the first time when the
// caller gave none.
func (e *Engine) key() []byte {
	e.keyOnce.Do(func() {
		if len(e.Key) == 0 {
			e.Key = make([]byte, 32)
			if _, err := rand.Read(e.Key); err != nil {
				panic(fmt.Sprintf("engine: random key: %v", err))
			}
		}
	})
	return e.Key
}

// mac is the hex HMAC-SHA256 of b under the engine's key.
func (e *Engine) mac(b []byte) string {
	m := hmac.New(sha256.New, e.key())
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

// KeyID names the engine's key without revealing it: a plan records it
// when it holds keyed fingerprints, so that apply can tell "made with
// another state directory's key" from drift.
func (e *Engine) KeyID() string { return e.mac([]byte("rebind key id"))[:16] }

// secretInputs returns the values of the runbook's sensitive variables.
func (s *session) secretInputs() []string {
	var out []string
	for _, name := range s.secret {
		out = append(out, secretStrings(s.values[name])...)
	}
	return out
}

// storedConfig encodes a step's configuration for the journal: storable,
// with the names of the attributes it withheld.
func storedConfig(schema steps.Schema, cfg cty.Value) *typedValue {
	tv, _ := encodeTyped(storable(schema, cfg))
	if tv == nil {
		return nil
	}
	withheld := sensitivePaths(cfg)
	plain, _ := cfg.UnmarkDeep()
	if plain.IsKnown() && !plain.IsNull() && plain.Type().IsObjectType() {
		for name, av := range plain.AsValueMap() {
			if a, ok := schema[name]; ok && a.Sensitive && !av.IsNull() {
				withheld[name] = true
			}
		}
	}
	for name := range withheld {
		if plain.IsKnown() && !plain.IsNull() && plain.Type().IsObjectType() && plain.Type().HasAttribute(name) && plain.GetAttr(name).IsNull() {
			continue // nothing was withheld: a null marked sensitive
		}
		tv.Withheld = append(tv.Withheld, name)
	}
	sort.Strings(tv.Withheld)
	return tv
}

// storable is the config as the journal may keep it: sensitive arguments
// (by schema or by mark) nulled.
func storable(schema steps.Schema, cfg cty.Value) cty.Value {
	masked := sensitivePaths(cfg)
	cfg, _ = cfg.UnmarkDeep()
	cfg = redactSchema(schema, cfg)
	if len(masked) == 0 || cfg.IsNull() || !cfg.Type().IsObjectType() {
		return cfg
	}
	m := cfg.AsValueMap()
	for n := range masked {
		m[n] = cty.NullVal(m[n].Type())
	}
	return cty.ObjectVal(m)
}
