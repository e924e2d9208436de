package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"math/rand"
	"testing"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/rebind-dev/rebind/engine/lang"
)

// ctyTypedJSON is what fingerprint hashed before typedJSON: cty's own
// encodings of the type and the value.
func ctyTypedJSON(t *testing.T, v cty.Value) []byte {
	t.Helper()
	tb, err := ctyjson.MarshalType(v.Type())
	if err != nil {
		t.Fatal(err)
	}
	vb, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		t.Fatal(err)
	}
	return append(tb, vb...)
}

// Strings that encoding/json escapes, or that look as if it might.
var awkwardStrings = []string{"", "plain", `q"uote`, `back\slash`, "<b>&amp;</b>", "tab\tnew\nline\r", "\x00\x1f\x7f",
	"é ü ß 漢字", "\u2028\u2029", "bad \xff utf8", "emoji 😀", "/slash", "'single'", "a.b-c_d@contoso.com"}

func randomValue(r *rand.Rand, depth int) cty.Value {
	str := func() cty.Value { return cty.StringVal(awkwardStrings[r.Intn(len(awkwardStrings))]) }
	k := r.Intn(12)
	if depth > 3 && k > 5 {
		k %= 6
	}
	switch k {
	case 0, 1:
		return str()
	case 2:
		switch r.Intn(4) {
		case 0:
			return cty.NumberIntVal(r.Int63() - r.Int63())
		case 1:
			return cty.NumberFloatVal(r.NormFloat64() * 1e6)
		case 2:
			f, _ := new(big.Float).SetString("123456789012345678901234567890.125")
			return cty.NumberVal(f)
		}
		return cty.NumberIntVal(0)
	case 3:
		return cty.BoolVal(r.Intn(2) == 0)
	case 4:
		return cty.NullVal([]cty.Type{cty.String, cty.Number, cty.List(cty.String), cty.EmptyObject, cty.DynamicPseudoType}[r.Intn(5)])
	case 5:
		return cty.ListValEmpty(cty.String)
	case 6:
		n := 1 + r.Intn(4)
		l := make([]cty.Value, n)
		for i := range l {
			l[i] = str()
		}
		if r.Intn(2) == 0 {
			return cty.SetVal(l)
		}
		return cty.ListVal(l)
	case 7:
		m := map[string]cty.Value{}
		for range 1 + r.Intn(4) {
			m[awkwardStrings[r.Intn(len(awkwardStrings))]] = cty.NumberIntVal(int64(r.Intn(100)))
		}
		return cty.MapVal(m)
	case 8:
		l := make([]cty.Value, r.Intn(4))
		for i := range l {
			l[i] = randomValue(r, depth+1)
		}
		return cty.TupleVal(l)
	case 9:
		// a list of objects of one type
		proto := randomObject(r, depth+1)
		n := 1 + r.Intn(3)
		l := make([]cty.Value, n)
		for i := range l {
			l[i] = proto
		}
		return cty.ListVal(l)
	}
	return randomObject(r, depth+1)
}

func randomObject(r *rand.Rand, depth int) cty.Value {
	m := map[string]cty.Value{}
	for range r.Intn(6) {
		m[awkwardStrings[r.Intn(len(awkwardStrings))]+fmt.Sprint(r.Intn(3))] = randomValue(r, depth)
	}
	return cty.ObjectVal(m)
}

// TestTypedJSONMatchesCty holds typedJSON to cty's encodings byte for
// byte, so that fingerprints (and so the unchanged instances and drift
// checks of plans made before it) stay what they were.
func TestTypedJSONMatchesCty(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	encoded := 0
	for i := range 5000 {
		v := randomValue(r, 0)
		got, ok := typedJSON(nil, v)
		if !ok {
			continue
		}
		encoded++
		if want := ctyTypedJSON(t, v); !bytes.Equal(got, want) {
			t.Fatalf("value %d (%#v):\n got %s\nwant %s", i, v, got, want)
		}
	}
	if encoded < 4000 {
		t.Fatalf("only %d of 5000 random values took the fast way", encoded)
	}
	for _, v := range []cty.Value{cty.EmptyObjectVal, cty.EmptyTupleVal, cty.MapValEmpty(cty.String), cty.SetValEmpty(cty.Bool),
		cty.TupleVal([]cty.Value{cty.StringVal("rebind unchanged instance"), cty.EmptyObjectVal, cty.ObjectVal(map[string]cty.Value{"upn": cty.StringVal("a@b")})}),
		cty.ObjectVal(map[string]cty.Value{"n": cty.NullVal(cty.DynamicPseudoType)}),
		cty.ListVal([]cty.Value{cty.MapVal(map[string]cty.Value{"<": cty.True})}),
	} {
		got, ok := typedJSON(nil, v)
		if !ok {
			t.Fatalf("%#v did not take the fast way", v)
		}
		if want := ctyTypedJSON(t, v); !bytes.Equal(got, want) {
			t.Fatalf("%#v:\n got %s\nwant %s", v, got, want)
		}
	}
}

// TestTypedJSONLeavesTheRest checks that what typedJSON cannot encode as
// cty does is left to fingerprint's general way.
func TestTypedJSONLeavesTheRest(t *testing.T) {
	for name, v := range map[string]cty.Value{
		"marked deep":    cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("s").Mark("x")}),
		"marked":         cty.StringVal("s").Mark("x"),
		"unknown deep":   cty.ListVal([]cty.Value{cty.UnknownVal(cty.String)}),
		"infinity":       cty.ObjectVal(map[string]cty.Value{"a": cty.PositiveInfinity}),
		"optional attrs": cty.NullVal(cty.ObjectWithOptionalAttrs(map[string]cty.Type{"a": cty.String}, []string{"a"})),
	} {
		if _, ok := typedJSON(nil, v); ok {
			t.Errorf("%s: typedJSON encoded it", name)
		}
	}
	// fingerprint is the SHA-256 of cty's encodings, whichever way it took.
	s := &session{e: &Engine{}}
	r := rand.New(rand.NewSource(2))
	for range 500 {
		v := randomValue(r, 0)
		sum := sha256.Sum256(ctyTypedJSON(t, v))
		if got, want := s.fingerprint(v), hex.EncodeToString(sum[:]); got != want {
			t.Fatalf("%#v: fingerprint %s, want %s", v, got, want)
		}
	}
	v := cty.ObjectVal(map[string]cty.Value{"a": cty.PositiveInfinity})
	if got := s.fingerprint(v); got != "" {
		t.Fatalf("an infinity has no JSON, and no fingerprint; got %q", got)
	}
}

// BenchmarkFingerprint is the fingerprint of one unchanged instance of the
// 100,000-user fan-out (README, Measurements): its observed user and
// arguments, in cty's encodings and in typedJSON.
func BenchmarkFingerprint(b *testing.B) {
	user := cty.ObjectVal(map[string]cty.Value{
		"id": cty.StringVal("6e7b768e-07e2-4810-8459-485f84f8f204"), "upn": cty.StringVal("user00042@contoso.com"),
		"immutable_id": cty.StringVal("jnZ7buIHEEiEWUhfhPjyBA=="), "display_name": cty.StringVal("User 42"),
		"mail": cty.StringVal("user00042@contoso.com"), "account_enabled": cty.True,
		"proxy_addresses":   cty.ListVal([]cty.Value{cty.StringVal("SMTP:user00042@contoso.com")}),
		"on_premises_sync":  cty.True,
		"provisioning_errs": cty.ListValEmpty(cty.String),
	})
	cfg := cty.ObjectVal(map[string]cty.Value{"upn": cty.StringVal("user00042@contoso.com"), "immutable_id": cty.StringVal("jnZ7buIHEEiEWUhfhPjyBA==")})
	v := cty.TupleVal([]cty.Value{cty.StringVal("rebind unchanged instance"), user, cfg})
	s := &session{e: &Engine{}}
	b.Run("cty-encodings", func(b *testing.B) {
		// fingerprint's general way, the only one before typedJSON
		for range b.N {
			_ = lang.HasSensitive(v)
			u, _ := v.UnmarkDeep()
			_ = u.IsWhollyKnown()
			tb, _ := ctyjson.MarshalType(u.Type())
			vb, _ := ctyjson.Marshal(u, u.Type())
			h := sha256.New()
			h.Write(tb)
			h.Write(vb)
			_ = hex.EncodeToString(h.Sum(nil))
		}
	})
	b.Run("fingerprint", func(b *testing.B) {
		for range b.N {
			_ = s.fingerprint(v)
		}
	})
}
