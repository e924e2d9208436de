package lang

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// testContext is the context the function tests evaluate in: the runbook
// folder holds users.csv and notes.txt.
func testContext(t *testing.T) *hcl.EvalContext {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("users.csv", "\ufeffupn,guid\nalice@contoso.com,1effbc1e-4aa3-4f9d-a508-d4d81f1f5873\n")
	write("notes.txt", "hello\n")
	write("binary.dat", "\xff\xfe")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	return &hcl.EvalContext{
		Functions: GuardSecrets(Functions(dir)),
		Variables: map[string]cty.Value{
			"var": cty.ObjectVal(map[string]cty.Value{
				"guid":     cty.StringVal("1effbc1e-4aa3-4f9d-a508-d4d81f1f5873"),
				"upn":      MarkPII(cty.StringVal("Alice@Contoso.com")),
				"password": MarkSensitive(cty.StringVal("hunter2")),
				"later":    cty.UnknownVal(cty.String).Mark(PII),
				"users":    cty.ListVal([]cty.Value{cty.StringVal("b"), cty.StringVal("a"), cty.StringVal("b")}),
			}),
		},
	}
}

func eval(t *testing.T, ctx *hcl.EvalContext, src string) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", src, diags.Error())
	}
	return expr.Value(ctx)
}

var s = cty.StringVal

func strs(xs ...string) cty.Value {
	vals := make([]cty.Value, len(xs))
	for i, x := range xs {
		vals[i] = s(x)
	}
	return cty.ListVal(vals)
}

func TestFunctions(t *testing.T) {
	ctx := testContext(t)
	tests := []struct {
		expr string
		want cty.Value
	}{
		// Anchors: the vectors of DOMAIN.md.
		{`immutable_id("1effbc1e-4aa3-4f9d-a508-d4d81f1f5873")`, s("Hrz/HqNKnU+lCNTYHx9Ycw==")},
		{`immutable_id("35918bc9-196d-40ea-9779-889d79b753f0")`, s("yYuRNW0Z6kCXeYidebdT8A==")},
		{`immutable_id("{1EFFBC1E-4AA3-4F9D-A508-D4D81F1F5873}")`, s("Hrz/HqNKnU+lCNTYHx9Ycw==")},
		{`guid("zxfO6vF1mEG6ZufFSlzl0g==")`, s("eace17cf-75f1-4198-ba66-e7c54a5ce5d2")},
		{`guid("Hrz/HqNKnU+lCNTYHx9Ycw==")`, s("1effbc1e-4aa3-4f9d-a508-d4d81f1f5873")},
		{`guid_bytes("1effbc1e-4aa3-4f9d-a508-d4d81f1f5873")`, numbers(0x1e, 0xbc, 0xff, 0x1e, 0xa3, 0x4a, 0x9d, 0x4f, 0xa5, 0x08, 0xd4, 0xd8, 0x1f, 0x1f, 0x58, 0x73)},
		{`ldap_guid_filter("1effbc1e-4aa3-4f9d-a508-d4d81f1f5873")`, s(`\1e\bc\ff\1e\a3\4a\9d\4f\a5\08\d4\d8\1f\1f\58\73`)},
		// RFC 4515 section 3: \ * ( ) and NUL escaped, each once; the rest kept.
		{`ldap_escape("x)(objectClass=*")`, s(`x\29\28objectClass=\2a`)},
		{`ldap_escape("a\\5c\u0000j\u00f6rg@contoso.com")`, s("a\\5c5c\\00j\u00f6rg@contoso.com")},

		// Files and CSV.
		{`file("notes.txt")`, s("hello\n")},
		{`fileexists("notes.txt")`, cty.True},
		{`fileexists("missing.txt")`, cty.False},
		{`csvdecode(file("users.csv"))[0].upn`, s("alice@contoso.com")},
		{`csvdecode("a,b\n1,2\n3,4\n")`, cty.ListVal([]cty.Value{
			cty.ObjectVal(map[string]cty.Value{"a": s("1"), "b": s("2")}),
			cty.ObjectVal(map[string]cty.Value{"a": s("3"), "b": s("4")}),
		})},
		{`csvdecode("upn,guid\n")`, cty.ListValEmpty(cty.Object(map[string]cty.Type{"upn": cty.String, "guid": cty.String}))},

		// Strings.
		{`chomp("a\n")`, s("a")},
		{`endswith("alice@contoso.com", "@contoso.com")`, cty.True},
		{`startswith("alice@contoso.com", "bob")`, cty.False},
		{`strcontains("alice@contoso.com", "@")`, cty.True},
		{`format("%s:%d", "a", 1)`, s("a:1")},
		{`formatlist("SMTP:%s", ["a@x", "b@x"])`, strs("SMTP:a@x", "SMTP:b@x")},
		{`indent(2, "a\nb")`, s("a\n  b")},
		{`join(",", ["a", "b"])`, s("a,b")},
		{`lower("ABC")`, s("abc")},
		{`upper("abc")`, s("ABC")},
		{`regex("^([^@]+)@", "alice@contoso.com")`, cty.TupleVal([]cty.Value{s("alice")})},
		{`regexall("[0-9]+", "a1b22")`, strs("1", "22")},
		{`replace("alice@contoso.com", "contoso", "fabrikam")`, s("alice@fabrikam.com")},
		{`split("@", "alice@contoso.com")`, strs("alice", "contoso.com")},
		{`strlen("abc")`, cty.NumberIntVal(3)},
		{`strrev("abc")`, s("cba")},
		{`substr("abcdef", 1, 2)`, s("bc")},
		{`title("alice smith")`, s("Alice Smith")},
		{`trim("--a--", "-")`, s("a")},
		{`trimprefix("smtp:a@x", "smtp:")`, s("a@x")},
		{`trimsuffix("a.hcl", ".hcl")`, s("a")},
		{`trimspace("  a ")`, s("a")},

		// Collections.
		{`chunklist(["a", "b", "c"], 2)`, cty.ListVal([]cty.Value{strs("a", "b"), strs("c")})},
		{`coalesce(null, "b")`, s("b")},
		{`coalescelist([], ["b"])`, cty.TupleVal([]cty.Value{s("b")})},
		{`compact(["a", "", "b"])`, strs("a", "b")},
		{`concat(tolist(["a"]), tolist(["b"]))`, strs("a", "b")},
		{`contains(["a", "b"], "b")`, cty.True},
		{`distinct(var.users)`, strs("b", "a")},
		{`element(["a", "b"], 3)`, s("b")},
		{`flatten([["a"], ["b", "c"]])`, cty.TupleVal([]cty.Value{s("a"), s("b"), s("c")})},
		{`keys({b = 1, a = 2})`, cty.TupleVal([]cty.Value{s("a"), s("b")})},
		{`length(var.users)`, cty.NumberIntVal(3)},
		{`length({a = 1, b = "x"})`, cty.NumberIntVal(2)},
		{`length("abc")`, cty.NumberIntVal(3)},
		{`length("")`, cty.NumberIntVal(0)},
		{`length("日本")`, cty.NumberIntVal(2)},
		{`length("e\u0301")`, cty.NumberIntVal(1)},
		{`alltrue([true, true])`, cty.True},
		{`alltrue([true, false])`, cty.False},
		{`alltrue([])`, cty.True},
		{`anytrue([false, true])`, cty.True},
		{`anytrue([])`, cty.False},
		{`one([])`, cty.NullVal(cty.DynamicPseudoType)},
		{`one(["only"])`, s("only")},
		{`one(tolist(["only"]))`, s("only")},
		{`lookup({a = "x"}, "b", "y")`, s("y")},
		{`merge({a = "x"}, {b = "y"})`, cty.ObjectVal(map[string]cty.Value{"a": s("x"), "b": s("y")})},
		{`range(3)`, numbers(0, 1, 2)},
		{`reverse(tolist(["a", "b"]))`, strs("b", "a")},
		{`setintersection(["a", "b"], ["b"])`, cty.SetVal([]cty.Value{s("b")})},
		{`length(setproduct(["a", "b"], ["c"]))`, cty.NumberIntVal(2)},
		{`setsubtract(["a", "b"], ["b"])`, cty.SetVal([]cty.Value{s("a")})},
		{`setunion(["a"], ["b"])`, cty.SetVal([]cty.Value{s("a"), s("b")})},
		{`slice(var.users, 1, 2)`, strs("a")},
		{`sort(var.users)`, strs("a", "b", "b")},
		{`values({a = "x", b = "y"})`, cty.TupleVal([]cty.Value{s("x"), s("y")})},
		{`zipmap(["a"], ["x"])`, cty.ObjectVal(map[string]cty.Value{"a": s("x")})},

		// Numbers.
		{`abs(-3)`, cty.NumberIntVal(3)},
		{`ceil(1.2)`, cty.NumberIntVal(2)},
		{`floor(1.8)`, cty.NumberIntVal(1)},
		{`max(1, 5, 3)`, cty.NumberIntVal(5)},
		{`min(1, 5, 3)`, cty.NumberIntVal(1)},
		{`parseint("ff", 16)`, cty.NumberIntVal(255)},
		{`pow(2, 10)`, cty.NumberIntVal(1024)},
		{`signum(-7)`, cty.NumberIntVal(-1)},

		// Encoding.
		{`base64encode("hello")`, s("aGVsbG8=")},
		{`base64decode("aGVsbG8=")`, s("hello")},
		{`jsonencode({a = 1})`, s(`{"a":1}`)},
		{`jsondecode("{\"a\":true}").a`, cty.True},

		// Time.
		{`formatdate("YYYY-MM-DD", "2026-11-21T04:00:00Z")`, s("2026-11-21")},
		{`timeadd("2026-11-21T04:00:00Z", "72h")`, s("2026-11-24T04:00:00Z")},

		// Types and errors.
		{`can(guid("EMP-1234"))`, cty.False},
		{`try(guid("EMP-1234"), "none")`, s("none")},
		{`tobool("true")`, cty.True},
		{`tolist(["a"])`, strs("a")},
		{`tomap({a = "x"})`, cty.MapVal(map[string]cty.Value{"a": s("x")})},
		{`tonumber("3")`, cty.NumberIntVal(3)},
		{`toset(["a", "a"])`, cty.SetVal([]cty.Value{s("a")})},
		{`tostring(3)`, s("3")},

		// Marks (what they mark is tested below).
		{`pii("a")`, MarkPII(s("a"))},
		{`sensitive("a")`, MarkSensitive(s("a"))},
	}
	called := map[string]bool{}
	call := regexp.MustCompile(`([a-z_0-9]+)\(`)
	for _, tc := range tests {
		for _, m := range call.FindAllStringSubmatch(tc.expr, -1) {
			called[m[1]] = true
		}
		got, diags := eval(t, ctx, tc.expr)
		if diags.HasErrors() {
			t.Errorf("%s: %s", tc.expr, diags.Error())
			continue
		}
		if !got.RawEquals(tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.expr, got, tc.want)
		}
	}
	var missing []string
	for name := range ctx.Functions {
		if !called[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("functions without a test: %s", strings.Join(missing, ", "))
	}
}

func numbers(ns ...int64) cty.Value {
	vals := make([]cty.Value, len(ns))
	for i, n := range ns {
		vals[i] = cty.NumberIntVal(n)
	}
	return cty.ListVal(vals)
}

func TestFunctionErrors(t *testing.T) {
	ctx := testContext(t)
	tests := []struct {
		expr string
		want string // in the diagnostic's Detail
	}{
		{`immutable_id("not-a-guid")`, `"not-a-guid" is not a GUID`},
		{`guid("EMP-1234")`, `"EMP-1234" is not base64`},
		{`guid("aGVsbG8=")`, `"aGVsbG8=" decodes to 5 bytes`},
		{`guid_bytes("x")`, `"x" is not a GUID`},
		{`ldap_guid_filter("x")`, `"x" is not a GUID`},
		{`file("missing.txt")`, `cannot read file "missing.txt"`},
		{`file("binary.dat")`, `file "binary.dat" is not UTF-8 text`},
		{`fileexists("sub")`, `"sub" is not a regular file`},
		{`csvdecode("upn,guid\na@x,1\nb@x\n")`, `CSV row 2 (line 3) has 1 fields, but the header row has 2`},
		{`csvdecode("")`, `the CSV text is empty`},
		{`csvdecode("a,a\n")`, `names column "a" twice`},
		{`csvdecode("a,\n")`, `column 2 of the CSV header row has no name`},
		{`base64decode("%%%")`, `the value is not base64`},
		{`base64decode("Hrz/HqNKnU+lCNTYHx9Ycw==")`, `use guid()`},
		{`one(["a", "b"])`, `at most one element`},
		{`one(tolist(["a", "b"]))`, `at most one element; this has 2`},
		{`alltrue(["x"])`, `a bool is required`},
	}
	for _, tc := range tests {
		_, diags := eval(t, ctx, tc.expr)
		if !diags.HasErrors() {
			t.Errorf("%s: no error, want one containing %q", tc.expr, tc.want)
			continue
		}
		if got := diags[0].Detail; !strings.Contains(got, tc.want) {
			t.Errorf("%s: error %q, want it to contain %q", tc.expr, got, tc.want)
		}
		if strings.Contains(diags.Error(), "anchor:") {
			t.Errorf("%s: error %q carries the Go package prefix", tc.expr, diags.Error())
		}
	}
}

func TestFunctionsPropagateMarks(t *testing.T) {
	ctx := testContext(t)
	tests := []struct {
		expr      string
		sensitive bool
		pii       bool
		unknown   bool
	}{
		{`upper(var.upn)`, false, true, false},
		{`split("@", var.upn)`, false, true, false},
		{`format("%s/%s", var.upn, var.password)`, true, true, false},
		{`immutable_id(sensitive_guid)`, true, false, false},
		{`guid(immutable_id(pii_guid))`, false, true, false},
		{`ldap_guid_filter(pii_guid)`, false, true, false},
		{`ldap_escape(var.upn)`, false, true, false},
		{`ldap_escape(var.later)`, false, true, true},
		{`guid_bytes(pii_guid)`, false, true, false},
		{`immutable_id(var.later)`, false, true, true},
		{`csvdecode(file(var.password == "" ? "x" : "users.csv"))`, true, false, false},
		{`base64encode(var.password)`, true, false, false},
		{`endswith(var.upn, "@contoso.com")`, false, true, false},
		{`pii(csvdecode(file("users.csv")))[0].upn`, false, true, false},
		{`sensitive(file("notes.txt"))`, true, false, false},
		{`sensitive(var.later)`, true, true, true},
		{`pii(null)`, false, true, false},
	}
	ctx = ctx.NewChild()
	ctx.Variables = map[string]cty.Value{
		"sensitive_guid": MarkSensitive(s("1effbc1e-4aa3-4f9d-a508-d4d81f1f5873")),
		"pii_guid":       MarkPII(s("1effbc1e-4aa3-4f9d-a508-d4d81f1f5873")),
	}
	for _, tc := range tests {
		got, diags := eval(t, ctx, tc.expr)
		if diags.HasErrors() {
			t.Errorf("%s: %s", tc.expr, diags.Error())
			continue
		}
		if HasSensitive(got) != tc.sensitive || HasPII(got) != tc.pii || got.IsWhollyKnown() == tc.unknown {
			t.Errorf("%s = %#v: sensitive %v, pii %v, known %v; want %v, %v, %v", tc.expr, got,
				HasSensitive(got), HasPII(got), got.IsWhollyKnown(), tc.sensitive, tc.pii, !tc.unknown)
		}
	}
}

// TestSensitiveArgumentNotInError checks that an anchor function does not
// quote a secret it cannot convert.
func TestSensitiveArgumentNotInError(t *testing.T) {
	ctx := testContext(t)
	for _, expr := range []string{`immutable_id(var.password)`, `guid(var.password)`, `base64decode(var.password)`} {
		_, diags := eval(t, ctx, expr)
		if !diags.HasErrors() {
			t.Errorf("%s: no error", expr)
			continue
		}
		if strings.Contains(diags.Error(), "hunter2") {
			t.Errorf("%s: the error shows the secret: %s", expr, diags.Error())
		}
	}
}

// TestFunctionsRefuseNumbersOutOfRange checks the functions that make
// numbers from text or float arithmetic: a result no plan can hold
// (pow(10, 99999) is +Inf) is an error at the call, not a value.
func TestFunctionsRefuseNumbersOutOfRange(t *testing.T) {
	ctx := testContext(t)
	ctx.Variables["digits"] = cty.StringVal(strings.Repeat("7", 1_000_000))
	for _, expr := range []string{
		`pow(10, 99999)`,
		`pow(0, -1)`,
		`tonumber("1e999999999")`,
		`tonumber("-1e400")`,
		`jsondecode("{\"a\": [1, 1e999999999]}")`,
		`parseint(join("", [for i in range(400) : "9"]), 10)`,
		// go-cty reads numbers in time quadratic in their length.
		`tonumber(digits)`,
		`parseint(digits, 10)`,
		`jsondecode(digits)`,
	} {
		_, diags := eval(t, ctx, expr)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), "64-bit float") && !strings.Contains(diags.Error(), "1000000 characters") {
			t.Errorf("%s: %v", expr, diags)
		}
	}
	if v, diags := eval(t, ctx, `pow(10, 300)`); diags.HasErrors() || v.AsBigFloat().Sign() <= 0 {
		t.Errorf("pow(10, 300) = %#v, %v", v, diags)
	}
}

// TestFileReadsNoFurtherThanItsLimit: file() of a device that never ends
// is an error, not a read that fills the memory.
func TestFileReadsNoFurtherThanItsLimit(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	_, diags := eval(t, testContext(t), `file("/dev/zero")`)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "too large") {
		t.Errorf("file(/dev/zero): %v", diags)
	}
}
