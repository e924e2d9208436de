package engine

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/lang"
	"github.com/rebind-dev/rebind/steps"
)

// minSecretLen is the shortest secret the text scrubber looks for: a
// shorter one would turn every message into noise, and is no secret.
const minSecretLen = 4

// secretSet is every secret a session has met: the values of sensitive
// variables, every string derived from them, and every value a step
// observed that reflects a secret argument (the old password a rotation
// replaces). Marks keep secrets out of values; the set is the second line,
// for text: log lines, errors, journal records and diagnostics are
// scrubbed of each secret in every form it is commonly written in.
//
// It is safe for concurrent use: fan-out instances add and scrub at once.
type secretSet struct {
	mu    sync.RWMutex
	forms map[string]bool
	// repl replaces every form by steps.Redacted; nil when it must be
	// built again.
	repl *strings.Replacer
}

func newSecretSet() *secretSet { return &secretSet{forms: map[string]bool{}} }

// add takes in every string in v that carries a sensitive mark.
func (s *secretSet) add(v cty.Value) {
	if v == cty.NilVal || !lang.HasSensitive(v) {
		return
	}
	for _, sec := range secretStrings(v) {
		s.addString(sec)
	}
}

// addString takes in one secret, with the forms it is commonly written
// in: base64 (both alphabets, padded or not), hex, URL-escaped and quoted
// as Go and JSON quote strings in messages.
func (s *secretSet) addString(sec string) {
	if len(sec) < minSecretLen {
		return
	}
	b := []byte(sec)
	forms := []string{
		sec,
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
		hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		url.QueryEscape(sec), url.PathEscape(sec),
		strings.Trim(strconv.Quote(sec), `"`),
	}
	if j, err := json.Marshal(sec); err == nil {
		forms = append(forms, strings.Trim(string(j), `"`))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range forms {
		if len(f) >= minSecretLen && !s.forms[f] {
			s.forms[f] = true
			s.repl = nil
		}
	}
}

// scrub replaces every form of every secret in text by steps.Redacted.
func (s *secretSet) scrub(text string) string {
	s.mu.RLock()
	r, empty := s.repl, len(s.forms) == 0
	s.mu.RUnlock()
	if empty {
		return text
	}
	if r == nil {
		s.mu.Lock()
		if s.repl == nil {
			forms := make([]string, 0, len(s.forms))
			for f := range s.forms {
				forms = append(forms, f)
			}
			// Longest first, so that a form containing another is
			// replaced whole.
			sort.Slice(forms, func(i, j int) bool {
				if len(forms[i]) != len(forms[j]) {
					return len(forms[i]) > len(forms[j])
				}
				return forms[i] < forms[j]
			})
			pairs := make([]string, 0, 2*len(forms))
			for _, f := range forms {
				pairs = append(pairs, f, steps.Redacted)
			}
			s.repl = strings.NewReplacer(pairs...)
		}
		r = s.repl
		s.mu.Unlock()
	}
	return r.Replace(text)
}

// scrubDiags returns diags with every secret scrubbed from their text, and
// their evaluation contexts replaced by copies in which every sensitive
// value reads "(sensitive)": hcl's diagnostic printer shows the values an
// expression used, and skips only those marked at the top.
func (s *secretSet) scrubDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	if len(diags) == 0 {
		return diags
	}
	out := make(hcl.Diagnostics, len(diags))
	for i, d := range diags {
		c := *d
		c.Summary, c.Detail = s.scrub(c.Summary), s.scrub(c.Detail)
		if c.EvalContext != nil {
			c.EvalContext = redactedContext(c.EvalContext)
		}
		out[i] = &c
	}
	return out
}

// redactedContext flattens ctx and its parents into one context whose
// variables hold no secret.
func redactedContext(ctx *hcl.EvalContext) *hcl.EvalContext {
	vars := map[string]cty.Value{}
	var chain []*hcl.EvalContext
	for c := ctx; c != nil; c = c.Parent() {
		chain = append(chain, c)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		for k, v := range chain[i].Variables {
			vars[k] = v
		}
	}
	for k, v := range vars {
		vars[k] = lang.Redact(v, false)
	}
	return &hcl.EvalContext{Variables: vars}
}

// scrubWriter scrubs what goes through it of a session's secrets: the log
// lines of the engine and of steps.
type scrubWriter struct {
	w io.Writer
	s *secretSet
}

func (sw scrubWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(sw.w, sw.s.scrub(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// secretArgs names the arguments of cfg that hold a secret: the schema
// says the argument is sensitive and a value is given, or the value
// derives from a sensitive variable.
func secretArgs(schema steps.Schema, cfg cty.Value) map[string]bool {
	out := sensitivePaths(cfg)
	plain, _ := cfg.UnmarkDeep()
	if plain == cty.NilVal || !plain.IsKnown() || plain.IsNull() || !plain.Type().IsObjectType() {
		return out
	}
	for name, a := range schema {
		if a.Sensitive && plain.Type().HasAttribute(name) && !plain.GetAttr(name).IsNull() {
			out[name] = true
		}
	}
	return out
}

// reflected names the attributes of a step's observation, change and
// result that hold a secret because the arguments named by secret do
// (steps.Attribute.Reflects).
func reflected(schema steps.Schema, secret map[string]bool) map[string]bool {
	out := map[string]bool{}
	for name := range secret {
		out[name] = true
		for _, r := range schema[name].Reflects {
			out[r] = true
		}
	}
	return out
}

// taint marks the named attributes of an object value sensitive, so that
// whatever is derived from them is too, and no plan, journal record or log
// shows them.
func taint(v cty.Value, names map[string]bool) cty.Value {
	if len(names) == 0 || v == cty.NilVal {
		return v
	}
	u, marks := v.Unmark()
	if !u.IsKnown() || u.IsNull() || !u.Type().IsObjectType() {
		return v
	}
	m := u.AsValueMap()
	changed := false
	for n := range names {
		if x, ok := m[n]; ok && !x.IsNull() {
			m[n] = lang.MarkSensitive(x)
			changed = true
		}
	}
	if !changed {
		return v
	}
	return cty.ObjectVal(m).WithMarks(marks)
}

// stripSensitive replaces every value marked sensitive in v by a null of
// its type: the form in which the journal keeps a value. It reports
// whether anything was replaced. The result carries no marks.
func stripSensitive(v cty.Value) (cty.Value, bool) {
	if v == cty.NilVal {
		return v, false
	}
	if !lang.HasSensitive(v) {
		u, _ := v.UnmarkDeep()
		return u, false
	}
	return strip(v), true
}

func strip(v cty.Value) cty.Value {
	u, marks := v.Unmark()
	if _, ok := marks[lang.Sensitive]; ok {
		plain, _ := u.UnmarkDeep()
		return cty.NullVal(plain.Type())
	}
	if !u.ContainsMarked() {
		return u
	}
	ty := u.Type()
	switch {
	case ty.IsObjectType():
		m := map[string]cty.Value{}
		for k, x := range u.AsValueMap() {
			m[k] = strip(x)
		}
		return cty.ObjectVal(m)
	case ty.IsMapType():
		m := map[string]cty.Value{}
		for k, x := range u.AsValueMap() {
			m[k] = strip(x)
		}
		return cty.MapVal(m)
	case ty.IsTupleType(), ty.IsListType(), ty.IsSetType():
		var elems []cty.Value
		for it := u.ElementIterator(); it.Next(); {
			_, x := it.Element()
			elems = append(elems, strip(x))
		}
		switch {
		case ty.IsTupleType():
			return cty.TupleVal(elems)
		case ty.IsListType():
			return cty.ListVal(elems)
		default:
			return cty.SetVal(elems)
		}
	}
	plain, _ := u.UnmarkDeep()
	return plain
}

// cleanReport scrubs the session's secrets from every text of a report,
// the last line of defence before a caller prints it.
func (s *session) cleanReport(rep *Report) *Report {
	if rep == nil {
		return nil
	}
	sc := s.secrets.scrub
	for i := range rep.Failures {
		rep.Failures[i].Err = sc(rep.Failures[i].Err)
		for j := range rep.Failures[i].Diagnostics {
			rep.Failures[i].Diagnostics[j].scrub(sc)
		}
	}
	for i := range rep.NotReverted {
		rep.NotReverted[i].Err = sc(rep.NotReverted[i].Err)
		for j := range rep.NotReverted[i].Diagnostics {
			rep.NotReverted[i].Diagnostics[j].scrub(sc)
		}
	}
	for i := range rep.Drift {
		rep.Drift[i].Object = sc(rep.Drift[i].Object)
		for j := range rep.Drift[i].Attributes {
			rep.Drift[i].Attributes[j] = sc(rep.Drift[i].Attributes[j])
		}
	}
	rep.Paused = sc(rep.Paused)
	return rep
}
