package engine

import (
	"runtime"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// TestFastTypedIsCtys: what a run records of a value decodes to the value
// ctyjson.Unmarshal gives, and what the fast way does not expect is left
// to ctyjson (the same value, or its error).
func TestFastTypedIsCtys(t *testing.T) {
	countedMu.Lock()
	rows := userRows(2000)
	countedMu.Unlock()
	values := map[string]cty.Value{
		"rows": rows,
		"all kinds": cty.ObjectVal(map[string]cty.Value{
			"s":     cty.StringVal("a \"quoted\" <b>&\u2028 é \\ \t"),
			"nfd":   cty.StringVal("e\u0301"),
			"n":     cty.NumberFloatVal(-1.5e-7),
			"big":   cty.MustParseNumberVal("123456789012345678901234567890"),
			"b":     cty.True,
			"null":  cty.NullVal(cty.List(cty.String)),
			"list":  cty.ListVal([]cty.Value{cty.StringVal("x"), cty.StringVal("y")}),
			"empty": cty.ListValEmpty(cty.Number),
			"set":   cty.SetVal([]cty.Value{cty.NumberIntVal(2), cty.NumberIntVal(1)}),
			"eset":  cty.SetValEmpty(cty.String),
			"map":   cty.MapVal(map[string]cty.Value{"k": cty.False, "": cty.True}),
			"emap":  cty.MapValEmpty(cty.Bool),
			"tuple": cty.TupleVal([]cty.Value{cty.StringVal("t"), cty.NumberIntVal(3), cty.EmptyObjectVal}),
			"etup":  cty.EmptyTupleVal,
			"obj":   cty.EmptyObjectVal,
		}),
		"dynamic inside": cty.ObjectVal(map[string]cty.Value{"d": cty.StringVal("x")}),
	}
	for name, v := range values {
		ty := v.Type()
		if name == "dynamic inside" {
			ty = cty.Object(map[string]cty.Type{"d": cty.DynamicPseudoType})
		}
		b, err := ctyjson.Marshal(v, ty)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ctyjson.Unmarshal(b, ty)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := fastTyped(b, ty)
		if name == "dynamic inside" {
			if ok {
				t.Errorf("%s: decoded a dynamically typed part; ctyjson's is the way", name)
			}
			continue
		}
		if !ok || !got.RawEquals(want) {
			t.Errorf("%s: fastTyped = %#v, %v; ctyjson: %#v", name, got, ok, want)
		}
		tb, _ := ctyjson.MarshalType(ty)
		if dv, err := decodeTyped(&typedValue{Type: tb, Value: b}); err != nil || !dv.RawEquals(want) {
			t.Errorf("%s: decodeTyped = %#v, %v", name, dv, err)
		}
	}
	obj := cty.Object(map[string]cty.Type{"a": cty.String, "n": cty.Number})
	for _, bad := range []string{
		`{"a":"x","zz":1}`, `{"a":"x","a":"y"}`, `{"a":1}`, `{"n":"1"}`, `{"a":"x",}`, `{"a" "x"}`,
		`{"a":"x"} extra`, `{"a":"x"`, `{"a":"\x01"}`, `{"a":"x\xff"}`, `[]`, `{"n":01}`, `{"n":1e}`,
	} {
		want, werr := ctyjson.Unmarshal([]byte(bad), obj)
		got, ok := fastTyped([]byte(bad), obj)
		if ok && (werr != nil || !got.RawEquals(want)) {
			t.Errorf("%s: fastTyped = %#v; ctyjson: %#v, %v", bad, got, want, werr)
		}
	}
	// Spaces, and attributes left out (null), as ctyjson reads them.
	for _, text := range []string{` { "a" : "x" , "n" : 2 } `, `{"a":"x"}`, `{}`} {
		want, err := ctyjson.Unmarshal([]byte(text), obj)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := fastTyped([]byte(text), obj); !ok || !got.RawEquals(want) {
			t.Errorf("%s: fastTyped = %#v, %v; ctyjson: %#v", text, got, ok, want)
		}
	}
}

// TestFastTypedAllocatesLess: a listing of users decodes with fewer than
// half the allocations ctyjson makes (a token each), which is where its
// time went (20,000 users, 3 MB: 0.48-0.78 s against 0.06-0.11 s where
// this was written).
func TestFastTypedAllocatesLess(t *testing.T) {
	countedMu.Lock()
	rows := userRows(20000)
	countedMu.Unlock()
	b, _ := ctyjson.Marshal(rows, rows.Type())
	ty := rows.Type()
	mallocs := func(f func()) (uint64, time.Duration) {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		start := time.Now()
		f()
		d := time.Since(start)
		runtime.ReadMemStats(&m1)
		return m1.Mallocs - m0.Mallocs, d
	}
	slow, slowT := mallocs(func() {
		if _, err := ctyjson.Unmarshal(b, ty); err != nil {
			t.Fatal(err)
		}
	})
	fast, fastT := mallocs(func() {
		if _, ok := fastTyped(b, ty); !ok {
			t.Fatal("fastTyped refused a listing")
		}
	})
	t.Logf("%d bytes: ctyjson %d allocations, %s; fastTyped %d, %s", len(b), slow, slowT, fast, fastT)
	if 2*fast > slow {
		t.Errorf("fastTyped made %d allocations, ctyjson %d", fast, slow)
	}
}
