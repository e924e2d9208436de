package engine

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
)

// fastTyped decodes b, a value's JSON as ctyjson.Marshal writes it for type
// ty, into the value ctyjson.Unmarshal gives, without encoding/json's
// token stream: a resume decodes the value of a data block the run
// recorded, and for one listing every user of a 100,000-user tenant (85 MB)
// ctyjson spent 13 s of the resume's 24 s of CPU before its first write.
// ok is false for anything it does not expect (a dynamically typed part,
// a capsule, a number or bool written as a string, an unknown attribute,
// malformed JSON): the caller then decodes with ctyjson, which gives the
// same value or the error.
func fastTyped(b []byte, ty cty.Type) (v cty.Value, ok bool) {
	d := typedDecoder{b: b}
	v, ok = d.value(ty)
	if !ok {
		return cty.NilVal, false
	}
	d.space()
	return v, d.i == len(d.b)
}

type typedDecoder struct {
	b []byte
	i int
}

func (d *typedDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek is the next byte that is not space, 0 at the end.
func (d *typedDecoder) peek() byte {
	d.space()
	if d.i >= len(d.b) {
		return 0
	}
	return d.b[d.i]
}

func (d *typedDecoder) literal(s string) bool {
	if len(d.b)-d.i < len(s) || string(d.b[d.i:d.i+len(s)]) != s {
		return false
	}
	d.i += len(s)
	return true
}

// str reads a JSON string: without escapes it is copied as it is (valid
// UTF-8 only, as encoding/json would otherwise replace bytes); with them
// encoding/json reads it.
func (d *typedDecoder) str() (string, bool) {
	if d.peek() != '"' {
		return "", false
	}
	start := d.i
	plain := true
	for j := d.i + 1; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '\\':
			plain = false
			j++ // the escaped byte cannot end the string
		case c < 0x20:
			return "", false
		case c == '"':
			d.i = j + 1
			raw := d.b[start+1 : j]
			if plain && utf8.Valid(raw) {
				return string(raw), true
			}
			var s string
			if json.Unmarshal(d.b[start:j+1], &s) != nil {
				return "", false
			}
			return s, true
		}
	}
	return "", false
}

// number reads the text of a JSON number.
func (d *typedDecoder) number() (string, bool) {
	d.space()
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			d.i++
			continue
		}
		break
	}
	if d.i == start || !json.Valid(d.b[start:d.i]) {
		return "", false
	}
	return string(d.b[start:d.i]), true
}

func (d *typedDecoder) value(ty cty.Type) (cty.Value, bool) {
	c := d.peek()
	if c == 'n' {
		if !d.literal("null") {
			return cty.NilVal, false
		}
		return cty.NullVal(ty), true
	}
	switch {
	case ty == cty.String:
		s, ok := d.str()
		if !ok {
			return cty.NilVal, false
		}
		return cty.StringVal(s), true
	case ty == cty.Bool:
		switch {
		case d.literal("true"):
			return cty.True, true
		case d.literal("false"):
			return cty.False, true
		}
		return cty.NilVal, false
	case ty == cty.Number:
		text, ok := d.number()
		if !ok {
			return cty.NilVal, false
		}
		n, err := cty.ParseNumberVal(text)
		return n, err == nil
	case ty.IsObjectType():
		if c != '{' || len(ty.OptionalAttributes()) > 0 {
			return cty.NilVal, false
		}
		d.i++
		atys := ty.AttributeTypes()
		vals := make(map[string]cty.Value, len(atys))
		if d.peek() == '}' {
			d.i++
		} else {
			for {
				k, ok := d.str()
				if !ok {
					return cty.NilVal, false
				}
				aty, known := atys[k]
				if _, dup := vals[k]; !known || dup || d.peek() != ':' {
					return cty.NilVal, false
				}
				d.i++
				if vals[k], ok = d.value(aty); !ok {
					return cty.NilVal, false
				}
				closed, ok := d.next('}')
				if !ok {
					return cty.NilVal, false
				}
				if closed {
					break
				}
			}
		}
		for k, aty := range atys {
			if _, ok := vals[k]; !ok {
				vals[k] = cty.NullVal(aty)
			}
		}
		return cty.ObjectVal(vals), true
	case ty.IsMapType():
		if c != '{' {
			return cty.NilVal, false
		}
		d.i++
		ety := ty.ElementType()
		vals := map[string]cty.Value{}
		if d.peek() == '}' {
			d.i++
			return cty.MapValEmpty(ety), true
		}
		for {
			k, ok := d.str()
			if !ok || d.peek() != ':' {
				return cty.NilVal, false
			}
			if _, dup := vals[k]; dup {
				return cty.NilVal, false
			}
			d.i++
			if vals[k], ok = d.value(ety); !ok {
				return cty.NilVal, false
			}
			closed, ok := d.next('}')
			if !ok {
				return cty.NilVal, false
			}
			if closed {
				return cty.MapVal(vals), true
			}
		}
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		if c != '[' {
			return cty.NilVal, false
		}
		d.i++
		var etys []cty.Type
		if ty.IsTupleType() {
			etys = ty.TupleElementTypes()
		}
		var vals []cty.Value
		if d.peek() == ']' {
			d.i++
		} else {
			for {
				ety := cty.NilType
				switch {
				case etys == nil:
					ety = ty.ElementType()
				case len(vals) < len(etys):
					ety = etys[len(vals)]
				default:
					return cty.NilVal, false
				}
				v, ok := d.value(ety)
				if !ok {
					return cty.NilVal, false
				}
				vals = append(vals, v)
				closed, ok := d.next(']')
				if !ok {
					return cty.NilVal, false
				}
				if closed {
					break
				}
			}
		}
		switch {
		case ty.IsTupleType():
			if len(vals) != len(etys) {
				return cty.NilVal, false
			}
			return cty.TupleVal(vals), true
		case len(vals) == 0 && ty.IsListType():
			return cty.ListValEmpty(ty.ElementType()), true
		case len(vals) == 0:
			return cty.SetValEmpty(ty.ElementType()), true
		case ty.IsListType():
			return cty.ListVal(vals), true
		default:
			return cty.SetVal(vals), true
		}
	}
	// A dynamically typed part or a capsule: ctyjson's.
	return cty.NilVal, false
}

// next reads a ',' (closed false) or the closing byte (closed true); ok
// is false for anything else.
func (d *typedDecoder) next(closing byte) (closed, ok bool) {
	switch d.peek() {
	case ',':
		d.i++
		return false, true
	case closing:
		d.i++
		return true, true
	}
	return false, false
}
