package steps

import "github.com/zclconf/go-cty/cty"

// ListOf is l as a list of element type t: an empty list of t when there
// is none (cty.ListVal needs at least one element to know the type), as
// step types return lists of objects.
func ListOf(t cty.Type, l []cty.Value) cty.Value {
	if len(l) == 0 {
		return cty.ListValEmpty(t)
	}
	return cty.ListVal(l)
}

// OptString is s as a string value, or null for "": Graph and the
// Exchange admin API send an unset string property as empty or leave it
// out, and step values show it as null.
func OptString(s string) cty.Value {
	if s == "" {
		return cty.NullVal(cty.String)
	}
	return cty.StringVal(s)
}
