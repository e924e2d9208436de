package lang

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestMarksInside agrees with cty's ContainsMarked and with HasSensitive,
// at any depth.
func TestMarksInside(t *testing.T) {
	for name, v := range map[string]cty.Value{
		"plain":           cty.ObjectVal(map[string]cty.Value{"a": cty.ListVal([]cty.Value{cty.StringVal("x")})}),
		"pii deep":        cty.ObjectVal(map[string]cty.Value{"a": cty.ListVal([]cty.Value{MarkPII(cty.StringVal("x"))})}),
		"secret deep":     cty.MapVal(map[string]cty.Value{"k": cty.TupleVal([]cty.Value{cty.True, MarkSensitive(cty.StringVal("pw"))})}),
		"secret and pii":  cty.ObjectVal(map[string]cty.Value{"a": MarkPII(cty.StringVal("x")), "b": MarkSensitive(cty.StringVal("pw"))}),
		"marked itself":   MarkPII(cty.EmptyObjectVal),
		"secret null":     cty.ObjectVal(map[string]cty.Value{"a": MarkSensitive(cty.NullVal(cty.String))}),
		"unknown":         cty.UnknownVal(cty.String),
		"secret set":      MarkSensitive(cty.SetVal([]cty.Value{cty.StringVal("a")})),
		"null of no type": cty.NullVal(cty.DynamicPseudoType),
	} {
		marked, sensitive := MarksInside(v)
		if marked != v.ContainsMarked() || sensitive != HasSensitive(v) {
			t.Errorf("%s: MarksInside = %v, %v; ContainsMarked %v, HasSensitive %v", name, marked, sensitive, v.ContainsMarked(), HasSensitive(v))
		}
	}
}
