package lang

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// StartsWithFunc is startswith(s, prefix).
var StartsWithFunc = stringPredicate("startswith", "prefix", strings.HasPrefix)

// EndsWithFunc is endswith(s, suffix).
var EndsWithFunc = stringPredicate("endswith", "suffix", strings.HasSuffix)

// StrContainsFunc is strcontains(s, substr).
var StrContainsFunc = stringPredicate("strcontains", "substr", strings.Contains)

func stringPredicate(name, second string, f func(s, t string) bool) function.Function {
	return function.New(&function.Spec{
		Description: fmt.Sprintf("Reports whether a string %s.", map[string]string{
			"startswith": "starts with a prefix", "endswith": "ends with a suffix", "strcontains": "contains a substring",
		}[name]),
		Params: []function.Parameter{
			{Name: "string", Type: cty.String},
			{Name: second, Type: cty.String},
		},
		Type: function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(f(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

// Base64EncodeFunc is base64encode(s): the standard base64 of the string's
// UTF-8 bytes.
var Base64EncodeFunc = function.New(&function.Spec{
	Description: "Encodes a string's UTF-8 bytes as standard base64.",
	Params:      []function.Parameter{{Name: "string", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.StringVal(base64.StdEncoding.EncodeToString([]byte(args[0].AsString()))), nil
	},
})

// Base64DecodeFunc is base64decode(s). The decoded bytes must be UTF-8 text:
// for an immutable ID, which decodes to binary GUID bytes, use guid().
var Base64DecodeFunc = function.New(&function.Spec{
	Description: "Decodes standard base64 into a UTF-8 string.",
	Params:      []function.Parameter{{Name: "string", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		s := args[0].AsString()
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			// The value is not quoted: base64 often carries a secret.
			return cty.NilVal, function.NewArgErrorf(0, "the value is not base64: %s", err)
		}
		if !utf8.Valid(b) || bytes.ContainsRune(b, 0) {
			return cty.NilVal, function.NewArgErrorf(0, "the value decodes to binary data, not text (for an immutable ID, use guid())")
		}
		return cty.StringVal(string(b)), nil
	},
})
