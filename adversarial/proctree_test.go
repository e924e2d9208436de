package adversarial

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// An exec step whose command forks a subshell into the background and then
// outlives its timeout. The subshell writes out/late.txt two seconds after
// the command started.
const treeRunbook = `
runbook "tree" {
  title = "A command that forks, then hangs"
}

step "exec" "fork" {
  command = ["sh", "-c", "%s"]
  timeout = "1s"
}
`

// A timed-out exec step is stopped with every process its command started:
// nothing it forked writes after the run has reported the step decided,
// and the step is decided soon after its timeout, not when the output pipes'
// grace is over.
func TestTimeoutStopsTheProcessTree(t *testing.T) {
	needTool(t, "sh")
	for name, script := range map[string]string{
		// The subshell lets go of the output pipes: killing the command
		// alone would decide the step at once, and leave the subshell be.
		"detached": "(sleep 2; echo late >> out/late.txt) </dev/null >/dev/null 2>&1 & touch out/started; exec sleep 30",
		// The subshell and a sleep keep the pipes open.
		"holding pipes": "(sleep 2; echo late >> out/late.txt) & touch out/started; sleep 30",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorkspace(t)
			w.write("out/.keep", "")
			w.write("tree.hcl", fmt.Sprintf(treeRunbook, script))
			p := w.start("apply", "-auto-approve", "tree.hcl")
			started := p.waitFor("out/started", 30*time.Second)
			r := p.wait(30 * time.Second)
			mustFail(t, r)
			if !strings.Contains(r.Stderr, "rolled back") || !strings.Contains(r.Stderr, "stopped") {
				t.Errorf("want the step stopped and the run rolled back:\n%s", r.Stderr)
			}
			// Before process groups the step waited out the pipes' 5 s
			// grace (6 s in all); the bound sits between, with room for a
			// loaded machine.
			decided := p.ended.Sub(started)
			if decided > 4500*time.Millisecond {
				t.Errorf("the run ended %v after the command started; want soon after its 1s timeout", decided.Round(time.Millisecond))
			}
			lateBefore := w.read("out/late.txt") != ""
			time.Sleep(time.Until(started.Add(3 * time.Second)))
			if !lateBefore && w.read("out/late.txt") != "" {
				t.Errorf("a subshell the command forked wrote out/late.txt after the run ended (%v after the start)", decided.Round(time.Millisecond))
			}
		})
	}
}

// ttyRunbook runs a command that reads the terminal, with a timeout far
// longer than the test waits.
const ttyRunbook = `
runbook "tty" {
  title = "A command that asks the terminal"
}

step "exec" "ask" {
  command = ["sh", "-c", "if read x < /dev/tty; then echo answered >> out/tty.txt; else echo no-terminal >> out/tty.txt; fi"]
  timeout = "30s"
}
`

// A command run in a process group of its own, but in rebind's session,
// would be stopped by SIGTTIN as soon as it read the terminal, and hang
// until its timeout. It runs without a terminal instead, and fails or goes
// on at once. rebind runs here on a terminal of its own (script(1)).
func TestCommandDoesNotHangOnTheTerminal(t *testing.T) {
	needTool(t, "sh")
	scriptPath, err := exec.LookPath("script")
	if err != nil || runtime.GOOS != "linux" {
		t.Skip("needs util-linux script(1) to give rebind a terminal")
	}
	w := newWorkspace(t)
	w.write("out/.keep", "")
	w.write("tty.hcl", ttyRunbook)
	args := []string{"apply", "-auto-approve", "tty.hcl"}
	cmd := w.command(args...)
	cmd.Path = scriptPath
	cmd.Args = []string{"script", "-qfec", "'" + os.Args[0] + "' " + strings.Join(args, " "), "/dev/null"}
	p := w.startCmd(cmd, args)
	r := p.wait(20 * time.Second)
	if r.Wall > 10*time.Second || w.read("out/tty.txt") != "no-terminal\n" {
		t.Errorf("the command took %v, and wrote %q; want it to find no terminal at once\n%s", r.Wall.Round(time.Millisecond), w.read("out/tty.txt"), r.Output())
	}
}
