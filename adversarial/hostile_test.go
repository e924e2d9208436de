package adversarial

import (
	"bufio"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The attacks in this file feed rebind input built to crash it, hang it or
// make it echo something huge: random bytes as a runbook, 100,000 levels
// of nesting, numbers no float can hold, values of 10 MB. Each must get a
// clear error (named in the case), with no panic or stack trace, no raw
// control character, bounded output and bounded memory. How long each
// takes and how much memory it needs is measured by BenchmarkHostileInputs
// (hostile_bench_test.go), not asserted here: the wall-clock limit below
// only catches a hang.

const (
	// hostileMaxRSS is the peak memory any hostile input may cost.
	hostileMaxRSS = 200 << 20
	// hostileHang is far above what any case takes (see the benchmark):
	// reaching it means rebind hung.
	hostileHang = 20 * time.Second
	// hostileMaxOutput bounds what a hostile input may make rebind print.
	hostileMaxOutput = 64 << 10
)

// hostileCase is one hostile input: setup writes its files into dir and
// returns rebind's arguments; env is added to the environment; want is a
// piece of the clear error the output must hold (or of what it prints
// when ok, for an input that is large but valid).
type hostileCase struct {
	name  string
	setup func(dir string) []string
	env   []string
	want  string
	ok    bool
}

// numberRunbook declares a number variable and uses it in a plan.
const numberRunbook = `runbook "n" {
  title = "numbers"
}

variable "n" {
  type = number
}

step "file" "n" {
  path    = "out/n.txt"
  content = "${var.n}"
}
`

// listRunbook declares a list variable.
const listRunbook = `runbook "l" {
  title = "lists"
}

variable "users" {
  type = list(any)
}
`

// upnRunbook validates a variable with a message that quotes its value.
const upnRunbook = `runbook "u" {
  title = "upn"
}

variable "upn" {
  type = string
  validation {
    condition     = endswith(var.upn, "@contoso.com")
    error_message = "The UPN ${var.upn} is not in contoso.com."
  }
}
`

// writeParts writes the file name under dir from parts, streamed, and
// returns its path. Large inputs are never held in the test's memory:
// the peak memory a child reports includes its parent's at the fork.
func writeParts(dir, name string, parts ...io.Reader) string {
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		panic(err)
	}
	f, err := os.Create(p)
	if err != nil {
		panic(err)
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	for _, r := range parts {
		if _, err := io.Copy(bw, r); err != nil {
			panic(err)
		}
	}
	if err := bw.Flush(); err != nil {
		panic(err)
	}
	if err := f.Close(); err != nil {
		panic(err)
	}
	return p
}

// text is s as a part.
func text(s string) io.Reader { return strings.NewReader(s) }

// repeat is s, n times, as a part.
func repeat(s string, n int) io.Reader {
	return io.LimitReader(&repeater{s: s}, int64(len(s)*n))
}

type repeater struct {
	s   string
	off int
}

func (r *repeater) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.off:])
		n += c
		r.off = (r.off + c) % len(r.s)
	}
	return n, nil
}

// randomBytes is n bytes from a fixed seed, so every run attacks alike.
func randomBytes(n int, seed int64) io.Reader {
	return io.LimitReader(rand.New(rand.NewSource(seed)), int64(n))
}

// randomText is n bytes of random valid UTF-8: code, punctuation, control
// characters, bidi overrides and other scripts.
func randomText(n int, seed int64) io.Reader {
	r := rand.New(rand.NewSource(seed))
	pool := []rune("runbook step var { } [ ] ( ) = \" $ % \n\t\x1b\x7f\u009b\u202e\u2066 \u200b 日本 é # // /* */ <<EOT ${ %{ 1e999 .,:?!&|+-*/<>")
	var b strings.Builder
	for b.Len() < n {
		b.WriteRune(pool[r.Intn(len(pool))])
	}
	return strings.NewReader(b.String()[:n-utf8.RuneLen('é')+1])
}

const (
	kib   = 1 << 10
	mib   = 1 << 20
	tenMB = 10 << 20
)

// deepLocal is a runbook whose one local is open, n times the opening
// text, then close, n times the closing text.
func deepLocal(open, middle, close string, n int) func(dir string) []string {
	return func(dir string) []string {
		return []string{"validate", writeParts(dir, "deep.hcl",
			text("runbook \"d\" {\n  title = \"deep\"\n}\n\nlocals {\n  x = "), repeat(open, n), text(middle), repeat(close, n), text("\n}\n"))}
	}
}

// hostileCases is the corpus. Nesting cases are as deep as the runbook
// size limit (256 KiB) allows, so that the depth check answers them.
func hostileCases() []hostileCase {
	file := func(dir, name, content string) string { return writeParts(dir, name, text(content)) }
	return []hostileCase{
		{name: "random-bytes-1MiB", want: "Runbook too large", setup: func(dir string) []string {
			return []string{"validate", writeParts(dir, "random.hcl", randomBytes(mib, 1))}
		}},
		{name: "random-bytes-200KiB", want: "Invalid character encoding", setup: func(dir string) []string {
			return []string{"plan", writeParts(dir, "random.hcl", randomBytes(200*kib, 2))}
		}},
		{name: "random-text-200KiB", want: "more errors", setup: func(dir string) []string {
			return []string{"validate", writeParts(dir, "text.hcl", randomText(200*kib, 3))}
		}},
		{name: "commas-250KiB", want: "Argument or block definition required", setup: func(dir string) []string {
			return []string{"validate", writeParts(dir, "commas.hcl", repeat(",", 250*kib))}
		}},
		{name: "dev-zero-runbook", want: "Runbook too large", setup: func(dir string) []string {
			return []string{"validate", "/dev/zero"}
		}},
		{name: "nested-parentheses-100k", want: "Nested too deeply", setup: deepLocal("(", "1", ")", 100_000)},
		{name: "nested-brackets-100k", want: "Nested too deeply", setup: deepLocal("[", "", "]", 100_000)},
		{name: "nested-interpolations-50k", want: "Nested too deeply", setup: deepLocal(`"${`, "1", `}"`, 50_000)},
		{name: "chained-operators-60k", want: "Nested too deeply", setup: deepLocal("1 + ", "1", "", 60_000)},
		{name: "nested-blocks-40k", want: "Nested too deeply", setup: func(dir string) []string {
			return []string{"validate", writeParts(dir, "blocks.hcl",
				text("runbook \"d\" {}\nstep \"file\" \"f\" {\n"), repeat("a {\n", 40_000), repeat("}\n", 40_001))}
		}},
		{name: "nested-var-60k", want: "Nested too deeply", setup: func(dir string) []string {
			// Linux limits one argument to 128 KiB.
			return []string{"plan", file(dir, "l.hcl", listRunbook), "-var", "users=" + strings.Repeat("[", 60_000)}
		}},
		{name: "nested-var-file-100k", want: "Nested too deeply", setup: func(dir string) []string {
			return []string{"plan", file(dir, "l.hcl", listRunbook), "-var-file",
				writeParts(dir, "deep.hcl.vars", text("users = "), repeat("[", 100_000), repeat("]", 100_000), text("\n"))}
		}},
		{name: "var-file-1MiB-HCL", want: "Variable file too large", setup: func(dir string) []string {
			return []string{"plan", file(dir, "l.hcl", listRunbook), "-var-file",
				writeParts(dir, "big.hcl.vars", text("users = ["), repeat("1,", mib/2), text("]\n"))}
		}},
		{name: "var-file-JSON-500k-values", want: "Too many values", setup: func(dir string) []string {
			return []string{"plan", file(dir, "l.hcl", listRunbook), "-var-file",
				writeParts(dir, "dense.json", text(`{"users": [`), repeat("1,", 500_000), text("1]}"))}
		}},
		{name: "nested-json-var-file-1M", want: "Nested too deeply", setup: func(dir string) []string {
			return []string{"plan", file(dir, "l.hcl", listRunbook), "-var-file",
				writeParts(dir, "deep.json", text(`{"users": `), repeat("[", 1_000_000), repeat("]", 1_000_000), text("}"))}
		}},
		{name: "dev-zero-var-file", want: "too large", setup: func(dir string) []string {
			return []string{"plan", file(dir, "l.hcl", listRunbook), "-var-file", "/dev/zero"}
		}},
		{name: "var-infinite", want: `Invalid value for variable`, setup: func(dir string) []string {
			return []string{"plan", file(dir, "n.hcl", numberRunbook), "-var", "n=1e999999999"}
		}},
		{name: "var-underflow", want: `Invalid value for variable`, setup: func(dir string) []string {
			return []string{"plan", file(dir, "n.hcl", numberRunbook), "-var", "n=1e-999999999"}
		}},
		{name: "env-var-infinite", want: `Invalid value for variable`, env: []string{"REBIND_VAR_n=-1e999999999"}, setup: func(dir string) []string {
			return []string{"plan", file(dir, "n.hcl", numberRunbook)}
		}},
		{name: "var-file-infinite", want: "Number out of range", setup: func(dir string) []string {
			return []string{"plan", file(dir, "n.hcl", numberRunbook), "-var-file", file(dir, "n.json", `{"n": 1e999999999}`)}
		}},
		{name: "literal-infinite", want: "Number out of range", setup: func(dir string) []string {
			return []string{"validate", file(dir, "lit.hcl", strings.Replace(numberRunbook, "type = number", "type = number\n  default = 1e999999", 1))}
		}},
		{name: "pow-infinite", want: "Error in function call", setup: func(dir string) []string {
			return []string{"plan", file(dir, "pow.hcl", strings.Replace(numberRunbook, "${var.n}", "${pow(10, 99999)}", 1)), "-var", "n=1"}
		}},
		{name: "var-file-10MB-digits", want: "10485760 characters", setup: func(dir string) []string {
			return []string{"plan", file(dir, "n.hcl", numberRunbook), "-var-file",
				writeParts(dir, "n.json", text(`{"n": "`), repeat("7", tenMB), text(`"}`))}
		}},
		{name: "var-file-10MB-echoed", want: "characters in all; cut", setup: func(dir string) []string {
			return []string{"plan", file(dir, "u.hcl", upnRunbook), "-var-file",
				writeParts(dir, "u.json", text(`{"upn": "`), repeat(`\u001b[8A`, tenMB/9), text(`"}`))}
		}},
		{name: "var-name-100KB", want: "Undeclared variable", setup: func(dir string) []string {
			return []string{"plan", file(dir, "u.hcl", upnRunbook), "-var", strings.Repeat("x", 100_000) + "=1"}
		}},
		{name: "runbook-250KiB-line", want: "Missing newline after argument", setup: func(dir string) []string {
			return []string{"validate", writeParts(dir, "line.hcl", text("runbook \"l\" {\n  title = \""), repeat("\x1b[8A", 60_000), text("\" = 1\n}\n"))}
		}},
		{name: "apply-10MB-error", want: "characters in all; cut", setup: func(dir string) []string {
			writeParts(dir, "big.txt", repeat("\x1b[8A", tenMB/4))
			return []string{"apply", "-auto-approve", file(dir, "fail.hcl", `runbook "f" {
  title = "fails"
}

step "assert" "big" {
  condition     = false
  error_message = file("big.txt")
}
`)}
		}},
		{name: "plan-file-random-1MiB", want: "not a rebind plan", setup: func(dir string) []string {
			return []string{"show", writeParts(dir, "random.plan", randomBytes(mib, 4))}
		}},
		{name: "plan-file-nested-1M", want: "not a rebind plan", setup: func(dir string) []string {
			return []string{"show", writeParts(dir, "deep.plan", text(`{"format_version": 1, "inputs": {"x": `), repeat("[", 1_000_000), repeat("]", 1_000_000), text("}}"))}
		}},
		{name: "plan-file-10MB-title-text", ok: false, want: "characters in all; cut", setup: bigTitlePlan("text")},
		{name: "plan-file-10MB-title-markdown", ok: false, want: "characters in all; cut", setup: bigTitlePlan("markdown")},
		{name: "plan-file-10MB-title-html", ok: false, want: "characters in all; cut", setup: bigTitlePlan("html")},
		// Large but valid: each of these once took from 8 to 25 s.
		{name: "locals-16000", ok: true, want: "is valid", setup: func(dir string) []string {
			var b strings.Builder
			b.WriteString("runbook \"l\" {\n  title = \"locals\"\n}\n\nlocals {\n")
			for i := 0; i < 16_000; i++ {
				fmt.Fprintf(&b, "  a%d = %d\n", i, i)
			}
			b.WriteString("}\n")
			return []string{"validate", file(dir, "locals.hcl", b.String())}
		}},
		{name: "local-chain-10000", ok: true, want: "Plan: ", setup: func(dir string) []string {
			var b strings.Builder
			b.WriteString("runbook \"l\" {\n  title = \"locals\"\n}\n\nlocals {\n  a0 = 0\n")
			for i := 1; i < 10_000; i++ {
				fmt.Fprintf(&b, "  a%d = local.a%d\n", i, i-1)
			}
			b.WriteString("}\n")
			return []string{"plan", file(dir, "chain.hcl", b.String())}
		}},
		{name: "var-file-JSON-90k-list", ok: true, want: "Plan: ", setup: func(dir string) []string {
			return []string{"plan", file(dir, "l.hcl", listRunbook), "-var-file",
				writeParts(dir, "users.json", text(`{"users": [`), repeat(`"alice@contoso.com", 7, `, 45_000), text(`"x"]}`))}
		}},
	}
}

// bigTitlePlan writes a plan file whose title is 10 MB of ESC sequences,
// as anyone who passes a plan on could edit it, and shows it in format.
func bigTitlePlan(format string) func(dir string) []string {
	return func(dir string) []string {
		writeParts(dir, "big.plan",
			text(`{"format_version": 1, "runbook": {"name": "big", "title": "`), repeat(`\u001b[8A`, tenMB/9),
			text(`", "digest": "", "sources": {}}, "inputs": {}, "targets": [], "steps": [], "permissions": [],`+
				` "approvals": {"required": 0}, "author": "\u202eevil", "created": "2026-01-01T00:00:00Z", "expires": "2026-01-02T00:00:00Z"}`))
		return []string{"show", "big.plan", "--format", format}
	}
}

// TestHostileInputs runs the corpus: each case in a workspace of its own.
func TestHostileInputs(t *testing.T) {
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			w := newWorkspace(t)
			w.Env = c.env
			args := c.setup(w.Dir)
			r := w.run(args...)
			if c.ok {
				mustSucceed(t, r)
			} else {
				mustFail(t, r)
			}
			assertShowsNoControls(t, r)
			if !strings.Contains(r.Output(), c.want) {
				t.Errorf("the output lacks the clear error %q:\n%s", c.want, clip(r.Output()))
			}
			if n := len(r.Output()); n > hostileMaxOutput {
				t.Errorf("%d bytes of output (at most %d)", n, hostileMaxOutput)
			}
			if r.MaxRSS > hostileMaxRSS {
				t.Errorf("peak memory %d MB (at most %d MB)", r.MaxRSS>>20, hostileMaxRSS>>20)
			}
			if r.Wall > hostileHang {
				t.Errorf("took %s: rebind hung", r.Wall)
			}
		})
	}
}
