package runbook

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
)

// MaxNesting is how deeply the text rebind parses may nest: runbooks,
// variable files (HCL and JSON) and -var values. HCL's parser is recursive,
// and so is every walk over what it builds: 100,000 nested parentheses
// overflowed the stack at 1.1 GB, and 100,000 chained operators took 350 MB.
// The depth is checked on the lexer's tokens (the lexer is not recursive)
// before the parser runs: each open parenthesis, bracket, brace (so each
// nested block), string, heredoc, template interpolation and directive
// counts one, and so does each operator (unary, binary, conditional, an
// attribute or index access) in the same bracket, since each nests the
// expression tree one level deeper. A comma, an `=`, a `=>` and a new line
// in a body or object end an item and its count. No runbook needs more;
// a longer expression can be split into locals.
const MaxNesting = 128

// ParseFile parses a variable file: JSON when its name ends in .json, else
// HCL native syntax. It refuses, with a diagnostic at the place, text that
// nests deeper than MaxNesting (before the parser runs) and number
// literals that no 64-bit float can hold (see CheckNumber), and text
// whose parse would outgrow the memory rebind allows itself: JSON of
// more than MaxValues values, HCL of more than MaxRunbookSize (HCL
// variable files are written by hand; bulk data comes as JSON or text).
// The file is nil only when it cannot be parsed at all.
func ParseFile(src []byte, filename string) (*hcl.File, hcl.Diagnostics) {
	if strings.EqualFold(filepath.Ext(filename), ".json") {
		if diags := CheckJSON(src, filename); diags.HasErrors() {
			return nil, diags
		}
		return hcljson.Parse(src, filename)
	}
	if len(src) > MaxRunbookSize {
		return nil, fileError(filename, "Variable file too large", fmt.Sprintf("The HCL variable file %s holds %d bytes; rebind reads HCL files of at most %s. Give bulk data as a JSON variable file, or as text (a CSV string, read with csvdecode).", filename, len(src), sizeText(MaxRunbookSize)))
	}
	return parseNative(src, filename)
}

// parseNative is ParseFile for HCL native syntax, whatever the file's name.
func parseNative(src []byte, filename string) (*hcl.File, hcl.Diagnostics) {
	if d := checkEncoding(src, filename); d.HasErrors() {
		return nil, d
	}
	tokens, diags := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	if d := checkNesting(tokens); d.HasErrors() {
		// The lexer's own diagnostics (a bad character) are kept: they
		// are often why the brackets do not balance.
		return nil, append(diags, d...)
	}
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if f != nil && !diags.HasErrors() {
		if body, ok := f.Body.(*hclsyntax.Body); ok {
			diags = append(diags, checkLiterals(body, src)...)
		}
	}
	return f, diags
}

// ParseExpression parses src, a -var value or another expression given
// outside a file, as ParseFile parses a file: nesting and number literals
// are checked. filename names the source in diagnostics ("-var users").
func ParseExpression(src []byte, filename string) (hclsyntax.Expression, hcl.Diagnostics) {
	tokens, diags := hclsyntax.LexExpression(src, filename, hcl.InitialPos)
	if d := checkNesting(tokens); d.HasErrors() {
		return nil, append(diags, d...)
	}
	expr, diags := hclsyntax.ParseExpression(src, filename, hcl.InitialPos)
	if expr != nil && !diags.HasErrors() {
		diags = append(diags, checkLiterals(expr, src)...)
	}
	return expr, diags
}

// nestLevel is one open bracket (or the body at the top) and the
// operators seen in it since its last item began.
type nestLevel struct {
	open hclsyntax.TokenType
	ops  int
}

// opens maps the tokens that open a level to what a person calls them.
var opens = map[hclsyntax.TokenType]string{
	hclsyntax.TokenOParen:          "parenthesis",
	hclsyntax.TokenOBrack:          "bracket",
	hclsyntax.TokenOBrace:          "brace",
	hclsyntax.TokenOQuote:          "string",
	hclsyntax.TokenOHeredoc:        "heredoc",
	hclsyntax.TokenTemplateInterp:  "template interpolation",
	hclsyntax.TokenTemplateControl: "template directive",
}

// operators are the tokens that nest an expression one level deeper in
// the bracket they stand in.
var operators = map[hclsyntax.TokenType]bool{
	hclsyntax.TokenPlus: true, hclsyntax.TokenMinus: true, hclsyntax.TokenStar: true,
	hclsyntax.TokenSlash: true, hclsyntax.TokenPercent: true, hclsyntax.TokenAnd: true,
	hclsyntax.TokenOr: true, hclsyntax.TokenBang: true, hclsyntax.TokenEqualOp: true,
	hclsyntax.TokenNotEqual: true, hclsyntax.TokenLessThan: true, hclsyntax.TokenLessThanEq: true,
	hclsyntax.TokenGreaterThan: true, hclsyntax.TokenGreaterThanEq: true, hclsyntax.TokenQuestion: true,
	hclsyntax.TokenDot: true, hclsyntax.TokenEllipsis: true,
}

// followsExpression reports whether a token of type t can end an
// expression, so that a bracket after it is an index.
func followsExpression(t hclsyntax.TokenType) bool {
	switch t {
	case hclsyntax.TokenIdent, hclsyntax.TokenNumberLit, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
		hclsyntax.TokenCBrace, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc, hclsyntax.TokenStar:
		return true
	}
	return false
}

// checkNesting measures tokens as MaxNesting describes and returns a
// diagnostic at the first token that goes deeper.
func checkNesting(tokens hclsyntax.Tokens) hcl.Diagnostics {
	stack := []nestLevel{{open: hclsyntax.TokenNil}}
	depth := 0
	afterControl := false
	prev := hclsyntax.TokenNil
	for _, tok := range tokens {
		top := &stack[len(stack)-1]
		what := ""
		switch tok.Type {
		case hclsyntax.TokenCParen, hclsyntax.TokenCBrack, hclsyntax.TokenCBrace,
			hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			if len(stack) > 1 {
				depth -= 1 + top.ops
				stack = stack[:len(stack)-1]
			}
		case hclsyntax.TokenComma, hclsyntax.TokenEqual, hclsyntax.TokenFatArrow:
			depth -= top.ops
			top.ops = 0
		case hclsyntax.TokenNewline:
			if top.open == hclsyntax.TokenNil || top.open == hclsyntax.TokenOBrace {
				depth -= top.ops
				top.ops = 0
			}
		case hclsyntax.TokenIdent:
			if afterControl && len(stack) > 1 {
				// %{ if } ... %{ endif } nest what is between them, in
				// the template around the directive.
				tmpl := &stack[len(stack)-2]
				switch string(tok.Bytes) {
				case "if", "for":
					tmpl.ops++
					depth++
					what = "template directive"
				case "endif", "endfor":
					if tmpl.ops > 0 {
						tmpl.ops--
						depth--
					}
				}
			}
		case hclsyntax.TokenOBrack:
			// An index (x[i]) nests the expression it follows; a list
			// opens a level only.
			if followsExpression(prev) {
				top.ops++
				depth++
			}
		}
		if operators[tok.Type] {
			top.ops++
			depth++
			what = "operator"
		}
		if name := opens[tok.Type]; name != "" {
			stack = append(stack, nestLevel{open: tok.Type})
			depth++
			what = name
		}
		if tok.Type == hclsyntax.TokenNumberLit && len(tok.Bytes) > MaxNumberText {
			// Parsing it would take minutes (see CheckNumberText).
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Number out of range",
				Detail:   fmt.Sprintf("This number %s.", CheckNumberText(string(tok.Bytes))),
				Subject:  tok.Range.Ptr(),
			}}
		}
		afterControl = tok.Type == hclsyntax.TokenTemplateControl
		if tok.Type != hclsyntax.TokenComment && tok.Type != hclsyntax.TokenTabs {
			prev = tok.Type
		}
		if depth > MaxNesting {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Nested too deeply",
				Detail: fmt.Sprintf("This %s is more than %d levels deep, counting the brackets, braces, blocks, strings and template interpolations around it and the operators in each. rebind reads at most %d, so that no input can exhaust its stack; split the expression into locals.",
					what, MaxNesting, MaxNesting),
				Subject: tok.Range.Ptr(),
			}}
		}
	}
	return nil
}

// MaxValues is how many values (array elements and object members) a
// JSON text may hold: reading one costs hcl and go-cty about 1 KB, so a
// 1 MiB array of numbers took 480 MB. 100,000 values, 25,000 mailboxes of
// three attributes, take about 170 MB; more data is given as text (a CSV
// string, read with csvdecode), which costs a tenth of that.
const MaxValues = 100_000

// CheckJSON checks JSON text before a JSON parser reads it (hcl's is
// recursive, and go-cty's number parsing takes time quadratic in a
// number's length): arrays and objects nest at most MaxNesting deep, it
// holds at most MaxValues values, and every number is short enough to
// parse and fits a 64-bit float (CheckNumberText).
func CheckJSON(src []byte, filename string) hcl.Diagnostics {
	depth, values := 0, 0
	at := func(i int) *hcl.Range {
		// Line and column of byte i, counted only when there is an error.
		p := hcl.InitialPos
		p.Byte = i
		p.Line += bytes.Count(src[:i], []byte{'\n'})
		p.Column = i - bytes.LastIndexByte(src[:i], '\n')
		end := p
		end.Byte++
		end.Column++
		return &hcl.Range{Filename: filename, Start: p, End: end}
	}
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == '"':
			for i++; i < len(src) && src[i] != '"'; i++ {
				if src[i] == '\\' {
					i++
				}
			}
		case c == '[' || c == '{' || c == ',':
			if values++; values > MaxValues {
				return hcl.Diagnostics{{
					Severity: hcl.DiagError,
					Summary:  "Too many values",
					Detail:   fmt.Sprintf("This JSON holds more than %d values (array elements and object members), the most rebind reads at once. Give more data as text: a CSV string, read with csvdecode.", MaxValues),
					Subject:  at(i),
				}}
			}
			if c == ',' {
				continue
			}
			depth++
			if depth > MaxNesting {
				return hcl.Diagnostics{{
					Severity: hcl.DiagError,
					Summary:  "Nested too deeply",
					Detail:   fmt.Sprintf("This JSON array or object is more than %d levels deep. rebind reads at most %d, so that no input can exhaust its stack.", MaxNesting, MaxNesting),
					Subject:  at(i),
				}}
			}
		case c == ']' || c == '}':
			depth--
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(src) && strings.IndexByte("0123456789.eE+-", src[j]) >= 0 {
				j++
			}
			if err := CheckNumberText(string(src[i:j])); err != nil {
				r := at(i)
				r.End.Byte, r.End.Column = j, r.Start.Column+(j-i)
				return hcl.Diagnostics{{
					Severity: hcl.DiagError,
					Summary:  "Number out of range",
					Detail:   fmt.Sprintf("This number %s.", err),
					Subject:  r,
				}}
			}
			i = j - 1
		}
	}
	return nil
}

// checkEncoding refuses text that is not UTF-8 with one diagnostic, at the
// first byte that is not, before the lexer makes one for each (a file of
// random bytes has tens of thousands).
func checkEncoding(src []byte, filename string) hcl.Diagnostics {
	if utf8.Valid(src) {
		return nil
	}
	i := 0
	for i < len(src) {
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	start := hcl.Pos{Byte: i, Line: 1 + bytes.Count(src[:i], []byte{'\n'}), Column: 1 + utf8.RuneCount(src[bytes.LastIndexByte(src[:i], '\n')+1:i])}
	end := start
	end.Byte++
	end.Column++
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid character encoding",
		Detail:   "All input files must be UTF-8 encoded; this byte is not. Ensure that UTF-8 encoding is selected in your editor.",
		Subject:  &hcl.Range{Filename: filename, Start: start, End: end},
	}}
}
