package plan

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/zclconf/go-cty/cty"
)

// TooLargeNote is the note of an instance whose observed object, n bytes of
// JSON, is larger than MaxStoredObject: the plan keeps its fingerprint only.
func TooLargeNote(n int) string {
	return fmt.Sprintf("what was observed (%s bytes of JSON) is larger than a plan stores (%s bytes): the plan keeps its fingerprint, which apply compares, not the object", count(n), count(MaxStoredObject))
}

// EncodeValueWithin is EncodeValue of v with every value whose own marks
// placeholder names replaced by that string (as a redaction does before
// EncodeValue), when that encoding is at most limit bytes long; otherwise
// it returns nil. n is the encoding's length either way.
//
// It walks v once, and stops building the bytes at the limit: a data block
// that lists every user of a tenant (85 MB of JSON for 100,000 users) is
// larger than a plan stores, and encoding it whole only to throw it away
// cost apply seconds before its first write. The length is still counted
// to the end, for the note that says how large it was.
func EncodeValueWithin(v cty.Value, limit int, placeholder func(cty.ValueMarks) (string, bool)) (out Value, n int) {
	if v == cty.NilVal {
		return nil, 0
	}
	e := boundedEncoder{limit: limit, placeholder: placeholder}
	e.value(v)
	if e.over {
		return nil, e.n
	}
	return Value(e.b), e.n
}

type boundedEncoder struct {
	b           []byte
	n, limit    int
	over        bool
	placeholder func(cty.ValueMarks) (string, bool)
	// lastType and lastNames are the object type last met and its
	// attribute names sorted: a listing's rows share one type.
	lastType  cty.Type
	lastNames []string
}

// names is t's attribute names, sorted.
func (e *boundedEncoder) names(t cty.Type) []string {
	if e.lastNames != nil && e.lastType.Equals(t) {
		return e.lastNames
	}
	atys := t.AttributeTypes()
	names := make([]string, 0, len(atys))
	for k := range atys {
		names = append(names, k)
	}
	sort.Strings(names)
	e.lastType, e.lastNames = t, names
	return names
}

func (e *boundedEncoder) write(s string) {
	e.n += len(s)
	if e.over {
		return
	}
	if e.n > e.limit {
		e.over, e.b = true, nil
		return
	}
	e.b = append(e.b, s...)
}

func (e *boundedEncoder) writeByte(c byte) {
	e.n++
	if e.over {
		return
	}
	if e.n > e.limit {
		e.over, e.b = true, nil
		return
	}
	e.b = append(e.b, c)
}

// str writes s as encoding/json does (HTML-safe escapes, invalid UTF-8 as
// U+FFFD): printable ASCII that needs no escape is copied, anything else
// is left to encoding/json.
func (e *boundedEncoder) str(s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s) // a string always encodes
			e.write(string(enc))
			return
		}
	}
	e.writeByte('"')
	e.write(s)
	e.writeByte('"')
}

// value writes v as json.Marshal(toJSON(v)) writes it, v's marks first
// resolved by the placeholder.
func (e *boundedEncoder) value(v cty.Value) {
	if v.IsMarked() {
		var marks cty.ValueMarks
		v, marks = v.Unmark()
		if e.placeholder != nil {
			if s, ok := e.placeholder(marks); ok {
				e.str(s)
				return
			}
		}
	}
	if !v.IsKnown() {
		e.str(Unknown)
		return
	}
	if v.IsNull() {
		e.write("null")
		return
	}
	t := v.Type()
	switch {
	case t == cty.String:
		e.str(v.AsString())
	case t == cty.Bool:
		if v.True() {
			e.write("true")
		} else {
			e.write("false")
		}
	case t.IsObjectType():
		// Attributes sorted, as encoding/json writes a map's keys.
		e.writeByte('{')
		for i, name := range e.names(t) {
			if i > 0 {
				e.writeByte(',')
			}
			e.str(name)
			e.writeByte(':')
			e.value(v.GetAttr(name))
		}
		e.writeByte('}')
	case t.IsMapType():
		// cty iterates a map's keys sorted, as encoding/json writes them.
		e.writeByte('{')
		first := true
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			if !first {
				e.writeByte(',')
			}
			first = false
			e.str(k.AsString())
			e.writeByte(':')
			e.value(ev)
		}
		e.writeByte('}')
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		e.writeByte('[')
		first := true
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			if !first {
				e.writeByte(',')
			}
			first = false
			e.value(ev)
		}
		e.writeByte(']')
	default:
		// A number (its exact form is toJSON's) or a capsule: rare, and
		// small.
		b, err := json.Marshal(toJSON(v))
		if err != nil {
			panic(fmt.Sprintf("plan: encode value: %v", err))
		}
		e.write(string(b))
	}
}
