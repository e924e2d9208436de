// Package steptest helps step packages test their types the way the engine
// calls them, without HCL: it builds the object value the engine decodes a
// block into.
package steptest

import (
	"fmt"
	"sort"
	"testing"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/rebind-dev/rebind/steps"
)

// Config builds an object value holding every attribute of schema, null
// when absent from given, converted to the schema's types, as the engine
// does after decoding a block. Given values may be cty.Values or plain Go
// strings, bools, ints, float64s, []string and map[string]string. It panics on an
// attribute the schema does not have, or a value that does not convert: a
// mistake in the test itself.
func Config(schema steps.Schema, given map[string]any) cty.Value {
	for name := range given {
		if _, ok := schema[name]; !ok {
			panic("steptest: the test gives " + name + ", which the schema does not have")
		}
	}
	attrs := map[string]cty.Value{}
	for name, a := range schema {
		v, ok := given[name]
		if !ok || v == nil {
			attrs[name] = cty.NullVal(a.Type)
			continue
		}
		cv := Value(v)
		if a.Type != cty.DynamicPseudoType {
			conv, err := convert.Convert(cv, a.Type)
			if err != nil {
				panic(fmt.Sprintf("steptest: %s: %v", name, err))
			}
			cv = conv
		}
		attrs[name] = cv
	}
	return cty.ObjectVal(attrs)
}

// Value converts a plain Go value to a cty.Value.
func Value(v any) cty.Value {
	switch x := v.(type) {
	case cty.Value:
		return x
	case string:
		return cty.StringVal(x)
	case bool:
		return cty.BoolVal(x)
	case int:
		return cty.NumberIntVal(int64(x))
	case float64:
		return cty.NumberFloatVal(x)
	case []string:
		return steps.StringList(x)
	case map[string]string:
		if len(x) == 0 {
			return cty.MapValEmpty(cty.String)
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m := map[string]cty.Value{}
		for _, k := range keys {
			m[k] = cty.StringVal(x[k])
		}
		return cty.MapVal(m)
	}
	panic(fmt.Sprintf("steptest: no conversion for %T", v))
}

// Call is a call of the data source or step type d, addressed
// step.NAME.test, with the given arguments (as Config builds them) against
// target.
func Call(d steps.DataSource, target any, given map[string]any) steps.Call {
	info := d.Info()
	return steps.Call{Address: "step." + info.Name + ".test", Config: Config(info.Schema, given), Target: target}
}

// Lookup returns the data source or step type registered as name, and
// fails the test when there is none.
func Lookup(t testing.TB, name string) steps.DataSource {
	t.Helper()
	d, ok := steps.Lookup(name)
	if !ok {
		t.Fatalf("step type %s is not registered", name)
	}
	return d
}

// Step returns the step type registered as name, and fails the test when
// there is none or name is a data source (it has no Diff or Apply).
func Step(t testing.TB, name string) steps.Type {
	t.Helper()
	typ, ok := Lookup(t, name).(steps.Type)
	if !ok {
		t.Fatalf("%s is a data source, not a step type", name)
	}
	return typ
}
