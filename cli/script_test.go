package cli

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/crypto/ssh"

	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/instance"
)

// TestMain lets the test binary act as the rebind command: as a child
// process the Go tests start and kill (REBIND_TEST_AS_CLI=1), and as the
// `rebind` command of the acceptance scripts (testscript puts a copy of
// this binary named rebind on their PATH).
func TestMain(m *testing.M) {
	if os.Getenv("REBIND_TEST_AS_CLI") == "1" {
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	testscript.Main(m, map[string]func(){
		"rebind": func() { os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScript runs the acceptance scripts in testdata/script, one or more
// per verb, the way the go command tests itself: each script is a txtar
// archive of the files it needs and the commands a person would type, with
// what they must print. `go test ./cli -run TestScript/NAME` runs one.
//
// $EXAMPLES is the repository's examples folder (the sample environment).
// Besides testscript's own commands the scripts have:
//
//	labstart SCENARIO        start a lab tenant in the test process; sets $LAB
//	                         and $REBIND_LAB_CA (its CA, in $WORK/lab-ca.pem)
//	labwait FILE             wait until `rebind lab serve > FILE` has printed
//	                         its URL (run in the background); sets $LAB
//	waitfile FILE            wait until FILE exists (a background command
//	                         made it)
//	capture NAME REGEXP      set $NAME to REGEXP's first group in the last
//	                         command's stdout, else its stderr
//	keygen NAME              write an SSH ed25519 key NAME and NAME.pub, and
//	                         add NAME's line to ./allowed_signers
//	replace FILE OLD NEW     replace every OLD with NEW in FILE (Go-quoted
//	                         strings are unquoted), to tamper with a plan
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("NO_COLOR", "1")
			env.Setenv("REBIND_STATE_DIR", filepath.Join(env.WorkDir, ".rebind"))
			env.Setenv("HOME", env.WorkDir)
			// The repository's examples, for the sample environment.
			examples, err := filepath.Abs("../examples")
			if err != nil {
				return err
			}
			env.Setenv("EXAMPLES", examples)
			return nil
		},
		// [ci] holds in CI (CI=true), where a missing tool fails the
		// script instead of skipping it, as the Go tests do.
		Condition: func(cond string) (bool, error) {
			if cond == "ci" {
				return os.Getenv("CI") == "true", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"labstart": scriptLabStart,
			"labwait":  scriptLabWait,
			"waitfile": scriptWaitFile,
			"capture":  scriptCapture,
			"keygen":   scriptKeygen,
			"replace":  scriptReplace,
		},
	})
}

func scriptLabStart(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: labstart SCENARIO")
	}
	in, err := instance.Start(instance.Options{Scenario: args[0], Scenarios: lab.ScenarioFiles})
	ts.Check(err)
	ts.Defer(func() { _ = in.Close() })
	ca := ts.MkAbs(labCAFile)
	ts.Check(os.WriteFile(ca, in.CAPEM, 0o644))
	ts.Setenv("LAB", in.URL)
	ts.Setenv("REBIND_LAB_CA", ca)
}

func scriptLabWait(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: labwait FILE")
	}
	path := ts.MkAbs(args[0])
	var line string
	if !within30s(func() bool {
		f, err := os.Open(path)
		if err != nil {
			return false
		}
		defer f.Close()
		line, err = bufio.NewReader(f).ReadString('\n')
		return err == nil
	}) {
		ts.Fatalf("%s: no URL after 30s", args[0])
	}
	u := strings.TrimSpace(line)
	if !strings.HasPrefix(u, "https://127.0.0.1:") {
		ts.Fatalf("lab serve printed %q, want its URL", u)
	}
	ts.Setenv("LAB", u)
}

func scriptWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	if !within30s(func() bool { _, err := os.Stat(ts.MkAbs(args[0])); return err == nil }) {
		ts.Fatalf("%s: not there after 30s", args[0])
	}
}

// within30s asks done every 10 ms until it holds, for up to 30 s, and
// says whether it held.
func within30s(done func() bool) bool {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if done() {
			return true
		}
	}
	return false
}

func scriptCapture(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: capture NAME REGEXP")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	if re.NumSubexp() < 1 {
		ts.Fatalf("capture: %q has no group", args[1])
	}
	for _, stream := range []string{"stdout", "stderr"} {
		if m := re.FindStringSubmatch(ts.ReadFile(stream)); m != nil {
			ts.Setenv(args[0], m[1])
			return
		}
	}
	ts.Fatalf("capture: no match for %q in stdout or stderr", args[1])
}

func scriptKeygen(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: keygen NAME")
	}
	name := args[0]
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	ts.Check(err)
	block, err := ssh.MarshalPrivateKey(priv, name)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(name), pem.EncodeToMemory(block), 0o600))
	sp, err := ssh.NewPublicKey(pub)
	ts.Check(err)
	line := plan.AuthorizedKey(sp)
	ts.Check(os.WriteFile(ts.MkAbs(name+".pub"), []byte(line+"\n"), 0o644))
	f, err := os.OpenFile(ts.MkAbs("allowed_signers"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	ts.Check(err)
	_, err = fmt.Fprintf(f, "%s %s\n", name, line)
	ts.Check(err)
	ts.Check(f.Close())
}

func scriptReplace(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: replace FILE OLD NEW")
	}
	unq := func(s string) string {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
		return s
	}
	path := ts.MkAbs(args[0])
	old, repl := unq(args[1]), unq(args[2])
	b, err := os.ReadFile(path)
	ts.Check(err)
	if !strings.Contains(string(b), old) {
		ts.Fatalf("replace: %s does not hold %q", args[0], old)
	}
	ts.Check(os.WriteFile(path, []byte(strings.ReplaceAll(string(b), old, repl)), 0o644))
}
