package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"sort"
	"sync"

	"github.com/zclconf/go-cty/cty"
)

// typedJSON appends to b the bytes fingerprint hashes for v: its type's
// JSON (cty's Type.MarshalJSON) followed by its value's JSON
// (ctyjson.Marshal with that type), byte for byte. It walks v once, without
// the reflection of encoding/json or the copies UnmarkDeep makes, which
// cost a fan-out of 100,000 instances most of its planning time. ok is
// false when v holds a mark, an unknown value, an infinity, a capsule, a
// dynamically typed value or an optional attribute anywhere: fingerprint
// then takes the general way, which handles them.
func typedJSON(b []byte, v cty.Value) ([]byte, bool) {
	b, ok := appendTypeJSON(b, v.Type())
	if !ok {
		return b, false
	}
	return appendValueJSON(b, v, v.Type(), nil)
}

// plainFingerprint is fingerprint's SHA-256 for a value typedJSON can
// encode; ok is false for any other. The bytes are hashed as they are
// made, a spillAt at a time, not gathered first: a data block listing
// every user of a tenant is tens of megabytes.
func plainFingerprint(v cty.Value) (string, bool) {
	bp := jsonBufs.Get().(*[]byte)
	defer jsonBufs.Put(bp)
	h := sha256.New()
	b, ok := appendTypeJSON((*bp)[:0], v.Type())
	if ok {
		b, ok = appendValueJSON(b, v, v.Type(), h)
	}
	*bp = b
	if !ok {
		return "", false
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), true
}

// spillAt is how many bytes appendValueJSON gathers before it writes them
// to its hash.
const spillAt = 64 << 10

// spill writes b to h and empties it once it holds spillAt bytes; with no
// h it keeps b whole.
func spill(b []byte, h hash.Hash) []byte {
	if h == nil || len(b) < spillAt {
		return b
	}
	h.Write(b)
	return b[:0]
}

var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func appendTypeJSON(b []byte, t cty.Type) ([]byte, bool) {
	switch {
	case t == cty.String:
		return append(b, `"string"`...), true
	case t == cty.Number:
		return append(b, `"number"`...), true
	case t == cty.Bool:
		return append(b, `"bool"`...), true
	case t == cty.DynamicPseudoType:
		return append(b, `"dynamic"`...), true
	case t.IsListType() || t.IsSetType() || t.IsMapType():
		kind := `["list",`
		if t.IsSetType() {
			kind = `["set",`
		} else if t.IsMapType() {
			kind = `["map",`
		}
		b, ok := appendTypeJSON(append(b, kind...), t.ElementType())
		return append(b, ']'), ok
	case t.IsObjectType():
		if len(t.OptionalAttributes()) > 0 {
			return b, false
		}
		atys := t.AttributeTypes()
		b = append(b, `["object",{`...)
		for i, name := range sortedNames(atys) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendJSONString(b, name), ':')
			var ok bool
			if b, ok = appendTypeJSON(b, atys[name]); !ok {
				return b, false
			}
		}
		return append(b, "}]"...), true
	case t.IsTupleType():
		etys := t.TupleElementTypes()
		if etys == nil {
			return b, false // encoding/json writes a nil slice as null
		}
		b = append(b, `["tuple",[`...)
		for i, et := range etys {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendTypeJSON(b, et); !ok {
				return b, false
			}
		}
		return append(b, "]]"...), true
	}
	return b, false
}

// appendValueJSON appends v's JSON as ctyjson.Marshal writes it with type
// t. With h, what it has gathered is written to h along the way (spill),
// and b holds only the rest.
func appendValueJSON(b []byte, v cty.Value, t cty.Type, h hash.Hash) ([]byte, bool) {
	if v.IsMarked() || !v.IsKnown() {
		return b, false
	}
	if t == cty.DynamicPseudoType {
		// ctyjson wraps a concretely typed value in its type here; a
		// null of no type is "null".
		if v.Type() == cty.DynamicPseudoType && v.IsNull() {
			return append(b, "null"...), true
		}
		return b, false
	}
	if v.IsNull() {
		return append(b, "null"...), true
	}
	switch {
	case t == cty.String:
		return appendJSONString(b, v.AsString()), true
	case t == cty.Number:
		if v.RawEquals(cty.PositiveInfinity) || v.RawEquals(cty.NegativeInfinity) {
			return b, false
		}
		return append(b, v.AsBigFloat().Text('f', -1)...), true
	case t == cty.Bool:
		if v.True() {
			return append(b, "true"...), true
		}
		return append(b, "false"...), true
	case t.IsListType() || t.IsSetType() || t.IsMapType():
		// A list or set is an array of its elements, a map an object of
		// its keys (in cty's order) and elements.
		keyed := t.IsMapType()
		open, end := byte('['), byte(']')
		if keyed {
			open, end = '{', '}'
		}
		b = append(b, open)
		ety := t.ElementType()
		first := true
		for it := v.ElementIterator(); it.Next(); {
			if !first {
				b = append(b, ',')
			}
			first = false
			ek, ev := it.Element()
			if keyed {
				b = append(appendJSONString(b, ek.AsString()), ':')
			}
			var ok bool
			if b, ok = appendValueJSON(b, ev, ety, h); !ok {
				return b, false
			}
			b = spill(b, h)
		}
		return append(b, end), true
	case t.IsTupleType():
		b = append(b, '[')
		etys := t.TupleElementTypes()
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			_, ev := it.Element()
			var ok bool
			if b, ok = appendValueJSON(b, ev, etys[i], h); !ok {
				return b, false
			}
			b = spill(b, h)
		}
		return append(b, ']'), true
	case t.IsObjectType():
		atys := t.AttributeTypes()
		b = append(b, '{')
		for i, name := range sortedNames(atys) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendJSONString(b, name), ':')
			var ok bool
			if b, ok = appendValueJSON(b, v.GetAttr(name), atys[name], h); !ok {
				return b, false
			}
			b = spill(b, h)
		}
		return append(b, '}'), true
	}
	return b, false
}

func sortedNames(atys map[string]cty.Type) []string {
	names := make([]string, 0, len(atys))
	for k := range atys {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// appendJSONString appends s as encoding/json writes it (escaping <, > and
// & as HTML-safe JSON does): printable ASCII that needs no escape is copied,
// anything else is left to encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s) // a string always encodes
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
