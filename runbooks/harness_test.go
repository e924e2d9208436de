// Package runbooks_test rehearses every bundled runbook end to end against
// the lab tenant over its real protocols (Graph, the Exchange admin API,
// LDAP): first the scenario's failure is reproduced, then the runbook is
// planned and applied through the engine, and the end state is checked
// object by object. The same runs are killed with SIGKILL at random points
// and resumed, and failed on purpose midway and rolled back.
package runbooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/cli"
	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/internal/e2e"
	labmodel "github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/lab/instance"
	"github.com/rebind-dev/rebind/lab/instance/instancetest"
	_ "github.com/rebind-dev/rebind/lab/labsync"

	// The step and target types the runbooks use.
	_ "github.com/rebind-dev/rebind/steps/ad"
	_ "github.com/rebind-dev/rebind/steps/adsync"
	_ "github.com/rebind-dev/rebind/steps/core"
	_ "github.com/rebind-dev/rebind/steps/entra"
	_ "github.com/rebind-dev/rebind/steps/exo"
)

// TestMain lets the test binary act as a rebind apply process, so the crash
// tests can run it as a real child process and kill it, and as the rebind
// command itself (e2e.AsCLI), which TestKillAndResumeCLI kills.
func TestMain(m *testing.M) {
	if os.Getenv(e2e.AsCLI) == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	if spec := os.Getenv("REBIND_RUNBOOKS_CHILD"); spec != "" {
		os.Exit(childMain(spec))
	}
	os.Exit(m.Run())
}

// job is one application of a runbook to a lab.
type job struct {
	Runbook  string            `json:"runbook"` // folder name under runbooks/
	Lab      string            `json:"lab"`
	StateDir string            `json:"state_dir"`
	WorkDir  string            `json:"work_dir"`
	Vars     map[string]string `json:"vars"`
	// Approve lists the approve-step addresses a reviewer gives the go-ahead
	// for when the run pauses there.
	Approve []string `json:"approve"`
	// Rerun lists in-doubt actions a person, asked, says to run again (a
	// sync cycle, a re-provisioning request: harmless to repeat).
	Rerun []string `json:"rerun"`
	// LabCA is the lab's CA (PEM): a child process verifies the lab with
	// it, as `rebind --lab` does with REBIND_LAB_CA.
	LabCA string `json:"lab_ca"`
	// Env is the environment the run's targets see (REBIND_LAB_TOKEN,
	// say); nothing else of the test's environment reaches them.
	Env map[string]string `json:"env"`
}

func childMain(spec string) int {
	var j job
	if err := json.Unmarshal([]byte(spec), &j); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	control.Trust(j.Lab, []byte(j.LabCA))
	rep, err := j.run(context.Background(), os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(rep.Status)
	return 0
}

func post(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return err
	}
	hc, err := control.Client(u, nil, 0)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s: %s", u, resp.Status, b)
	}
	return nil
}

// engine binds the run's targets to the lab as `rebind --lab` does, with
// the job's environment as the process's.
func (j job) engine(ctx context.Context, store *journal.Store, log io.Writer) (*engine.Engine, error) {
	b, err := control.Bind(ctx, j.Lab, filepath.Join(j.StateDir, "lab"), func(k string) string { return j.Env[k] })
	if err != nil {
		return nil, err
	}
	return &engine.Engine{
		Store: store, Lab: j.Lab, Log: log, WorkDir: j.WorkDir,
		Sleep: control.NewSleeper(j.Lab).Sleep, PollInterval: control.Poll,
		Bind: b.EnvironmentFor, Getenv: b.Getenv,
		// Every instance's lines, fan-outs' too: the scheduler test
		// counts its step boundaries in them.
		Verbose: true,
	}, nil
}

func (j job) inputs() engine.Inputs { return engine.Inputs{Vars: j.Vars} }

// run applies the runbook, or resumes its latest unfinished run when the
// journal has one, and carries it through approvals until it ends.
func (j job) run(ctx context.Context, log io.Writer) (*engine.Report, error) {
	store, err := journal.Open(j.StateDir)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	e, err := j.engine(ctx, store, log)
	if err != nil {
		return nil, err
	}
	runs, err := store.Runs(ctx)
	if err != nil {
		return nil, err
	}
	var rep *engine.Report
	switch n := len(runs); {
	case n == 0:
		rep, err = j.apply(ctx, e)
	case runs[n-1].Status == journal.StatusSucceeded || runs[n-1].Status == journal.StatusRolledBack:
		// It ended before it could be stopped: applying again would be a
		// second run of a fix already made.
		return &engine.Report{RunID: runs[n-1].ID, Status: runs[n-1].Status}, nil
	default:
		rep, err = j.resume(ctx, e, runs[n-1].ID, nil)
	}
	if rep != nil && rep.Status == journal.StatusAborted {
		var ids []string
		for _, r := range runs {
			ids = append(ids, r.ID+":"+string(r.Status))
		}
		return rep, fmt.Errorf("run %s aborted: %+v (runs before: %v)", rep.RunID, rep.Failures, ids)
	}
	for i := 0; err == nil && i < 10; i++ {
		switch {
		case rep.Status == journal.StatusPaused:
			addr := j.pausedAt(rep.Paused)
			if addr == "" {
				return rep, fmt.Errorf("paused at a step the test does not approve: %s", rep.Paused)
			}
			if err := store.ApproveStep(ctx, rep.RunID, addr, "reviewer"); err != nil {
				return rep, err
			}
			rep, err = j.resume(ctx, e, rep.RunID, nil)
		case len(rep.InDoubt) > 0:
			decide := map[string]string{}
			for _, a := range rep.InDoubt {
				if !j.rerunnable(a) {
					return rep, fmt.Errorf("in doubt, and not an action the test may repeat: %s", a)
				}
				decide[a] = "rerun"
			}
			rep, err = j.resume(ctx, e, rep.RunID, decide)
		default:
			return rep, nil
		}
	}
	return rep, err
}

func (j job) pausedAt(msg string) string {
	for _, a := range j.Approve {
		if strings.Contains(msg, a) {
			return a
		}
	}
	return ""
}

func (j job) rerunnable(addr string) bool {
	for _, p := range j.Rerun {
		if strings.HasPrefix(addr, p) {
			return true
		}
	}
	return false
}

func (j job) apply(ctx context.Context, e *engine.Engine) (*engine.Report, error) {
	rb, diags := runbook.Load(filepath.Join(runbooksDir(), j.Runbook))
	if diags.HasErrors() {
		return nil, fmt.Errorf("load: %s", diags.Error())
	}
	p, diags := e.Plan(ctx, rb, j.inputs(), engine.PlanOptions{Author: "author"})
	if diags.HasErrors() {
		return nil, planError{diags.Error()}
	}
	rep, diags := e.Apply(ctx, p, j.inputs(), engine.ApplyOptions{Author: "author", Rehearsal: true})
	if diags.HasErrors() {
		return rep, fmt.Errorf("apply: %s", diags.Error())
	}
	return rep, nil
}

// planError is a plan refused by the runbook's own checks.
type planError struct{ msg string }

func (p planError) Error() string { return "plan: " + p.msg }

func (j job) resume(ctx context.Context, e *engine.Engine, id string, decide map[string]string) (*engine.Report, error) {
	rep, diags := e.Resume(ctx, id, j.inputs(), engine.ResumeOptions{Decide: decide})
	if diags.HasErrors() {
		return rep, fmt.Errorf("resume %s: %s", id, diags.Error())
	}
	return rep, nil
}

// rollback reverts the latest run.
func (j job) rollback(t *testing.T) *engine.Report {
	t.Helper()
	ctx := context.Background()
	store, err := journal.Open(j.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	runs, err := store.Runs(ctx)
	if err != nil || len(runs) == 0 {
		t.Fatalf("no run to roll back (%v)", err)
	}
	e, err := j.engine(ctx, store, testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	rep, diags := e.Rollback(ctx, runs[len(runs)-1].ID, j.inputs())
	if diags.HasErrors() {
		t.Fatalf("rollback: %s", diags.Error())
	}
	return rep
}

func runbooksDir() string {
	wd, _ := os.Getwd()
	return wd
}

// The bundled modules the runbooks call by name (source = "takeover-check")
// are this folder's, as the rebind binary's are its embedded copy.
func init() { runbook.Bundled = os.DirFS(runbooksDir()) }

// testLog sends the engine's progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Helper()
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// lab is a lab tenant running in the test process.
type lab struct {
	t  *testing.T
	in *instance.Instance
}

func startLab(t *testing.T, scenario string) *lab {
	t.Helper()
	return startLabFrom(t, labmodel.ScenarioFiles, scenario)
}

// startLabFrom starts a lab from a scenario in fsys (laid out as
// lab.ScenarioFiles is), for a test that varies a bundled scenario.
func startLabFrom(t *testing.T, fsys fs.FS, scenario string) *lab {
	t.Helper()
	in := instancetest.Start(t, instance.Options{Scenario: scenario, Scenarios: fsys})
	if deletedUPNPrefixed(t) {
		in.Tenant.SetDeletedUPNPrefix(true)
	}
	return &lab{t: t, in: in}
}

// newJob is a job on this lab with a fresh journal.
func (l *lab) newJob(name string, vars map[string]string) job {
	dir := l.t.TempDir()
	if name == "rebuilt-ad-hard-match" || name == "offboard-relink" {
		if vars == nil {
			vars = map[string]string{}
		}
		if _, ok := vars["takeover_blocked"]; !ok {
			vars["takeover_blocked"] = l.takeoverAnswer()
		}
	}
	return job{Runbook: name, Lab: l.in.URL, StateDir: filepath.Join(dir, ".rebind"), WorkDir: dir, Vars: vars, LabCA: string(l.in.CAPEM)}
}

// apply runs j to its end in the test process and fails the test unless
// it succeeds.
func (l *lab) apply(j job) *engine.Report {
	l.t.Helper()
	rep, err := j.run(context.Background(), testLog{l.t})
	if err != nil {
		l.t.Fatalf("%s: %v", j.Runbook, err)
	}
	if rep.Status != journal.StatusSucceeded {
		l.t.Fatalf("%s: run %s ended %s: %+v", j.Runbook, rep.RunID, rep.Status, rep.Failures)
	}
	return rep
}

// sync runs a cycle through the lab's control API, as Entra Connect would.
func (l *lab) sync(policy string) map[string]any {
	l.t.Helper()
	resp, err := l.in.Client().Post(l.in.URL+"/lab/sync?policy="+policy, "", nil)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return out
}

func (l *lab) do(method, path string, body any) (int, map[string]any) {
	l.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, l.in.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+l.token())
	resp, err := l.in.Client().Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// token is a Graph token of the lab's default app, from the lab's token
// endpoint as a client credentials flow gets it.
func (l *lab) token() string {
	l.t.Helper()
	hc := l.in.Client()
	ep, err := control.New(l.in.URL, hc).Endpoints(context.Background())
	if err != nil {
		l.t.Fatal(err)
	}
	resp, err := hc.PostForm(ep.TokenEndpoint, url.Values{"grant_type": {"client_credentials"}, "client_id": {ep.ClientID},
		"client_secret": {ep.ClientSecret}, "scope": {"https://graph.microsoft.com/.default"}})
	return l.accessToken(resp, err, "token")
}

// delegatedToken is a delegated Graph token for the lab's administrator
// with scopes scp and directory roles wids, minted by POST /lab/token (the
// lab serves no interactive sign-in).
func (l *lab) delegatedToken(scp string, wids ...string) string {
	l.t.Helper()
	b, _ := json.Marshal(map[string]any{"user": "admin@contoso.com", "scp": scp, "wids": wids})
	resp, err := l.in.Client().Post(l.in.URL+"/lab/token", "application/json", bytes.NewReader(b))
	return l.accessToken(resp, err, "delegated token")
}

// accessToken is the access_token of a token endpoint's answer; what names
// the token in the failure.
func (l *lab) accessToken(resp *http.Response, err error, what string) string {
	l.t.Helper()
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		l.t.Fatalf("%s: %s %v", what, resp.Status, err)
	}
	return tok.AccessToken
}

// dump is the lab's whole state, as GET /lab/dump serves it.
func (l *lab) dump() state {
	l.t.Helper()
	resp, err := l.in.Client().Get(l.in.URL + "/lab/dump")
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	var s state
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		l.t.Fatal(err)
	}
	return s
}

// state is a lab dump.
type state map[string]any

func (s state) list(field string) []map[string]any {
	l, _ := s[field].([]any)
	out := make([]map[string]any, 0, len(l))
	for _, x := range l {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// find returns the objects of field whose key equals value.
func (s state) find(field, key, value string) []map[string]any {
	var out []map[string]any
	for _, o := range s.list(field) {
		if v, _ := o[key].(string); strings.EqualFold(v, value) {
			out = append(out, o)
		}
	}
	return out
}

// adUser is the live AD object with the UPN.
func (s state) adUser(t *testing.T, upn string) map[string]any {
	t.Helper()
	for _, o := range s.find("ad", "userPrincipalName", upn) {
		if d, _ := o["isDeleted"].(bool); !d {
			return o
		}
	}
	t.Fatalf("no live AD user %s", upn)
	return nil
}

// cloudUser is the cloud user with the UPN (active or deleted, as asked);
// a deleted user is found under its UPN prefixed with its id, too.
func (s state) cloudUser(t *testing.T, upn string, deleted bool) map[string]any {
	t.Helper()
	for _, o := range s.list("users") {
		_, del := o["deletedDateTime"].(string)
		got := str(o["userPrincipalName"])
		if del && deleted {
			got = strings.TrimPrefix(strings.ToLower(got), strings.ReplaceAll(strings.ToLower(str(o["id"])), "-", ""))
		}
		if del == deleted && strings.EqualFold(got, upn) {
			return o
		}
	}
	t.Fatalf("no cloud user %s (deleted=%t)", upn, deleted)
	return nil
}

// volatile are fields that say when, not what: their change between two
// runs reaching the same end state tells nothing. A time is kept as "set".
func volatile(k string) (drop, presence bool) {
	switch k {
	case "uSNChanged", "whenChanged", "ExchangeObjectId", "Guid", "Identity":
		return true, false
	}
	lk := strings.ToLower(k)
	if strings.Contains(lk, "datetime") || strings.HasPrefix(lk, "when") || lk == "created" || lk == "occurred" {
		return false, true
	}
	return false, false
}

func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			drop, presence := volatile(k)
			switch {
			case drop:
			case presence:
				out[k] = e != nil && e != ""
			default:
				out[k] = normalize(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

// objects indexes a state's AD objects, cloud users and recipients by a
// stable name, normalized.
func (s state) objects() map[string]any {
	out := map[string]any{}
	for _, o := range s.list("ad") {
		out["ad:"+str(o["objectGUID"])] = normalize(o)
	}
	for _, o := range s.list("users") {
		out["user:"+str(o["id"])] = normalize(o)
	}
	for _, o := range s.list("recipients") {
		k := "recipient:" + str(o["RecipientTypeDetails"]) + ":" + strings.ToLower(str(o["UserPrincipalName"])) + ":" + str(o["ExchangeGuid"])
		out[k] = normalize(o)
	}
	out["organization"] = normalize(s["organization"])
	return out
}

func str(v any) string { s, _ := v.(string); return s }

// unchangedExcept fails the test for every object that differs between two
// states, other than those keep accepts.
func unchangedExcept(t *testing.T, before, after state, changed func(key string, o map[string]any) bool) {
	t.Helper()
	b, a := before.objects(), after.objects()
	keys := map[string]bool{}
	for k := range b {
		keys[k] = true
	}
	for k := range a {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		if reflect.DeepEqual(b[k], a[k]) {
			continue
		}
		o, _ := a[k].(map[string]any)
		if o == nil {
			o, _ = b[k].(map[string]any)
		}
		if changed != nil && changed(k, o) {
			continue
		}
		bj, _ := json.Marshal(b[k])
		aj, _ := json.Marshal(a[k])
		t.Errorf("%s changed, and the runbook must not touch it:\n  before %s\n  after  %s", k, bj, aj)
	}
}

// sameEnd fails the test when two end states differ object by object.
func sameEnd(t *testing.T, want, got state) {
	t.Helper()
	unchangedExcept(t, want, got, nil)
}

func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, str(x))
	}
	return out
}

// lastErrors are the export errors of the lab's last sync cycle.
func (s state) lastErrors() []map[string]any {
	sy, _ := s["sync"].(map[string]any)
	last, _ := sy["last"].(map[string]any)
	l, _ := last["errors"].([]any)
	var out []map[string]any
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// takeoverAnswer is a Global Administrator's reading of the lab's
// takeover-through-hard-match switch, "yes" or "no": the tests' app-only
// token reads it as unknown (Graph serves it to delegated Global
// Administrator sign-in only), so a job gives it as takeover_blocked, as
// an admin would after checking.
func (l *lab) takeoverAnswer() string {
	if l.in.Tenant.Organization().BlockHardMatchTakeover {
		return "yes"
	}
	return "no"
}

// upnFilter is the LDAP filter an admin gives as ad_filter to select the
// named lab users (NAME@contoso.com) by UPN.
func upnFilter(names ...string) string {
	var b strings.Builder
	b.WriteString("(|")
	for _, n := range names {
		b.WriteString("(userPrincipalName=" + n + "@contoso.com)")
	}
	return b.String() + ")"
}
