package adsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/instance"
	"github.com/rebind-dev/rebind/lab/instance/instancetest"
	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/steptest"
)

// startLab starts a lab as rehearse does: HTTPS with the CA this process
// is handed, tokens from its token endpoint.
func startLab(t *testing.T, fsys fs.FS, scenario string) *instance.Instance {
	t.Helper()
	in := instancetest.Start(t, instance.Options{Scenario: scenario, Scenarios: fsys})
	return in
}

// overThreshold is the healthy scenario with a deletion threshold of 1:
// once two AD users are deleted (deleteADUsers), the next cycle exceeds it.
func overThreshold(t *testing.T) []byte {
	t.Helper()
	raw, err := fs.ReadFile(lab.ScenarioFiles, "scenarios/healthy.json")
	if err != nil {
		t.Fatal(err)
	}
	var sc map[string]any
	if err := json.Unmarshal(raw, &sc); err != nil {
		t.Fatal(err)
	}
	sc["config"].(map[string]any)["deletionThreshold"] = 1
	raw, err = json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// deleteADUsers deletes the first n users of tn's AD.
func deleteADUsers(t *testing.T, tn *lab.Tenant, n int) {
	t.Helper()
	users, _ := tn.SearchAD(lab.ADQuery{})
	for _, u := range users[:n] {
		if err := tn.DeleteADUser(u.DN); err != nil {
			t.Fatal(err)
		}
	}
}

// open opens the adsync target with settings cfg; given a lab, a
// cloudsync target is bound to the lab's Graph as `rebind --lab` binds an
// environment's, with the lab's CA and credentials.
func open(t *testing.T, labURL string, cfg map[string]any) any {
	t.Helper()
	if labURL != "" {
		b := instancetest.Bind(t, labURL, nil)
		extra := map[string]cty.Value{"graph_url": cty.StringVal(b.URL), "tenant_id": cty.StringVal(b.Endpoints.TenantID),
			"authority_host": cty.StringVal(b.Endpoints.Authority), "poll_seconds": cty.NumberFloatVal(0.05)}
		for k, v := range cfg {
			extra[k] = steptest.Value(v)
		}
		return instancetest.Target(t, b, "adsync", "connect", extra)
	}
	tt, _ := steps.LookupTarget("adsync")
	tc := steps.TargetConfig{Name: "connect", Config: steptest.Config(tt.Info().Schema, cfg), Getenv: func(string) string { return "" }}
	v, err := tt.Open(context.Background(), tc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func runCycle(t *testing.T, target any, cfg map[string]any) (steps.Result, error) {
	t.Helper()
	typ := steptest.Step(t, "adsync_cycle")
	call := steps.Call{Address: "step.adsync_cycle.t", Config: steptest.Config(typ.Info().Schema, cfg), Target: target, Log: io.Discard}
	obs, err := typ.Observe(context.Background(), call)
	if err != nil {
		return steps.Result{}, err
	}
	ch, err := typ.Diff(context.Background(), call, obs)
	if err != nil || ch.Action != steps.Run {
		t.Fatalf("diff: %v %v", ch.Action, err)
	}
	return typ.Apply(context.Background(), call, ch)
}

// script writes an executable shell script.
func script(t *testing.T, dir, name, body string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCommandDriverWaits starts a cycle with a program given as an argument
// list (no shell), then polls the status program until it prints False.
func TestCommandDriverWaits(t *testing.T) {
	dir := t.TempDir()
	start := script(t, dir, "start", `echo "$1" > "$2"; printf 'Result\n------\nSuccess\n'`)
	status := script(t, dir, "status", `n=$(cat "$1" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$1"; if [ $n -lt 3 ]; then echo True; else echo False; fi`)
	policyFile, countFile := filepath.Join(dir, "policy"), filepath.Join(dir, "count")
	target := open(t, "", map[string]any{"driver": "command", "command": []string{start, "-PolicyType {policy}", policyFile},
		"status_command": []string{status, countFile}, "poll_seconds": 0.01})
	res, err := runCycle(t, target, map[string]any{"policy": "Initial"})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(policyFile); strings.TrimSpace(string(b)) != "-PolicyType Initial" {
		t.Fatalf("argument = %q", b)
	}
	if b, _ := os.ReadFile(countFile); strings.TrimSpace(string(b)) != "3" || res.Value.GetAttr("status").AsString() != "finished" || res.Value.GetAttr("finished").IsNull() {
		t.Fatalf("polls = %s, result %#v", b, res.Value)
	}
	// A busy Connect server is "try later", not a failure.
	busy := script(t, dir, "busy", `echo "Start-ADSyncSyncCycle : System.InvalidOperationException: Connector: Busy" >&2; exit 1`)
	target = open(t, "", map[string]any{"driver": "command", "command": []string{busy}})
	var ra *steps.RetryAfterError
	if _, err := runCycle(t, target, nil); !errors.As(err, &ra) {
		t.Fatalf("busy: %v", err)
	}
	// Arguments are not parsed by a shell.
	target = open(t, "", map[string]any{"driver": "command", "command": []string{start, "a; touch " + filepath.Join(dir, "pwned"), policyFile}})
	if _, err := runCycle(t, target, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Fatal("an argument ran as a shell command")
	}
}

// TestCloudSyncDriver restarts a Cloud Sync job with a Watermark reset and
// waits until an execution later than the one the job showed before the
// restart has ended. The fake service gives no activityIdentifier, so
// executions are told apart by when they began.
func TestCloudSyncDriver(t *testing.T) {
	var mu sync.Mutex
	var restartBody map[string]any
	polls := 0
	restarted := false
	began := time.Date(2026, 4, 7, 12, 0, 0, 0, time.UTC) // the service's clock, not ours
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(401)
			return
		}
		switch {
		case r.Method == "POST" && r.URL.Path == "/v1.0/servicePrincipals/sp1/synchronization/jobs/job1/restart":
			json.NewDecoder(r.Body).Decode(&restartBody)
			restarted = true
			w.WriteHeader(204)
		case r.Method == "GET" && r.URL.Path == "/v1.0/servicePrincipals/sp1/synchronization/jobs/job1":
			if !restarted {
				// The run before ours, long over.
				fmt.Fprintf(w, `{"status":{"code":"Active","lastExecution":{"state":"Succeeded","timeBegan":%q,"timeEnded":%q}}}`,
					began.Add(-time.Hour).Format(time.RFC3339), began.Add(-59*time.Minute).Format(time.RFC3339))
				return
			}
			polls++
			ended := "null"
			if polls >= 2 {
				ended = fmt.Sprintf("%q", began.Add(time.Minute).Format(time.RFC3339))
			}
			fmt.Fprintf(w, `{"status":{"code":"Active","lastExecution":{"state":"Succeeded","timeBegan":%q,"timeEnded":%s}}}`, began.Format(time.RFC3339), ended)
		default:
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	d := &CloudSyncDriver{Graph: srv.URL + "/v1.0", SP: "sp1", Job: "job1", Poll: 10 * time.Millisecond, Tokens: staticToken("tok")}
	res, err := runCycle(t, d, map[string]any{"policy": "Initial"})
	if err != nil {
		t.Fatal(err)
	}
	crit, _ := restartBody["criteria"].(map[string]any)
	// Watermark re-evaluates every object; Full would also clear the
	// connector data store ("DO NOT USE") and force pending deletions.
	if crit["resetScope"] != "Watermark" || polls != 2 || res.Value.GetAttr("status").AsString() != "succeeded" {
		t.Fatalf("restart body %v, polls %d, result %#v", restartBody, polls, res.Value)
	}
}

// ticking advances the lab's clock by the job's interval until stop is
// called, so that an Active job's scheduled iterations come due while a
// driver waits for one.
func ticking(t *testing.T, tn *lab.Tenant) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
				if err := tn.Advance(2 * time.Minute); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// TestCloudSyncDriverAgainstLab: a cloudsync target bound to the lab's
// Graph drives the job over the lab's Graph as the synchronization
// API reference documents: an Initial cycle is a restart with a Watermark
// reset, a Delta of a running job is its next scheduled iteration (nothing
// is started), each awaited by its own execution; a job in quarantine is
// refused unless the step says start_quarantined, and a tenant with sync off
// is an error that says so.
func TestCloudSyncDriverAgainstLab(t *testing.T) {
	in := startLab(t, lab.ScenarioFiles, "rebuilt-ad")
	tn := in.Tenant
	target := open(t, in.URL, map[string]any{"driver": "cloudsync", "service_principal_id": "6ba1b0c8-5f6c-4e59-8f3e-2a3b0f1c9d11", "job_id": "AD2AADProvisioning.abc.def"})
	if _, ok := target.(*CloudSyncDriver); !ok {
		t.Fatalf("a cloudsync target opened %T", target)
	}
	res, err := runCycle(t, target, map[string]any{"policy": "Initial"})
	if err != nil {
		t.Fatal(err)
	}
	last, _ := tn.LastSync()
	if last.Policy != lab.Initial || res.Value.GetAttr("status").AsString() != "entrylevelerrors" {
		t.Fatalf("lab ran %s; result %#v", last.Policy, res.Value)
	}
	first := last.ID
	stop := ticking(t, tn)
	_, err = runCycle(t, target, map[string]any{"policy": "Delta"})
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if last, _ := tn.LastSync(); last.Policy != lab.Delta || last.ID == first {
		t.Fatalf("second cycle: %+v", last)
	}

	if err := tn.SetDirSyncEnabled(false); err != nil {
		t.Fatal(err)
	}
	if _, err := runCycle(t, target, map[string]any{"policy": "Initial"}); !steps.IsPermanent(err) || !strings.Contains(err.Error(), "turned off") {
		t.Fatalf("cycle with sync off: %v", err)
	}

	// A tenant whose deletion threshold the next cycle exceeds.
	in2 := startLab(t, fstest.MapFS{"scenarios/variant.json": {Data: overThreshold(t)}}, "variant")
	tn2 := in2.Tenant
	deleteADUsers(t, tn2, 2)
	target2 := open(t, in2.URL, map[string]any{"driver": "cloudsync", "service_principal_id": "sp", "job_id": "job"})
	stop = ticking(t, tn2)
	_, err = runCycle(t, target2, nil)
	stop()
	if !steps.IsPermanent(err) || !strings.Contains(err.Error(), "quarantine (TooManyDeletes)") {
		t.Fatalf("cycle over the deletion threshold: %v", err)
	}
	stopped, _ := tn2.LastSync()
	// Quarantined: refused, and nothing is sent.
	if _, err := runCycle(t, target2, nil); !steps.IsPermanent(err) || !strings.Contains(err.Error(), "start_quarantined") {
		t.Fatalf("cycle of a quarantined job: %v", err)
	}
	if l, _ := tn2.LastSync(); l.ID != stopped.ID {
		t.Fatalf("a refused run ran cycle %s", l.ID)
	}
	// Told to, rebind starts it: the quarantine clears, the deletions are
	// still over the threshold, and the job goes back into quarantine.
	if _, err := runCycle(t, target2, map[string]any{"start_quarantined": true}); !steps.IsPermanent(err) || !strings.Contains(err.Error(), "ran and went into quarantine") {
		t.Fatalf("start of a quarantined job: %v", err)
	}
	if l, _ := tn2.LastSync(); l.ID == stopped.ID {
		t.Fatal("start_quarantined ran no cycle")
	}
}

type staticToken string

func (s staticToken) Token(context.Context) (string, error) { return string(s), nil }

// TestTargetRefusals checks the target's errors for incomplete blocks.
func TestTargetRefusals(t *testing.T) {
	tt, _ := steps.LookupTarget("adsync")
	for _, cfg := range []map[string]any{
		{"driver": "command"},
		{"driver": "cloudsync", "job_id": "j"},
		{"driver": "lab"},
		{"driver": "ssh"},
	} {
		if _, err := tt.Open(context.Background(), steps.TargetConfig{Name: "x", Config: steptest.Config(tt.Info().Schema, cfg)}); err == nil {
			t.Errorf("Open(%v) succeeded", cfg)
		}
	}
}

// TestOpenRefusesPlainHTTP: a cloudsync target's graph_url that is not
// https:// is refused before any token is asked for, naming the target,
// the setting and its value.
func TestOpenRefusesPlainHTTP(t *testing.T) {
	cfg := steps.TargetConfig{Name: "sync", Config: steptest.Config(targetType{}.Info().Schema, map[string]any{"driver": "cloudsync",
		"service_principal_id": "sp", "job_id": "AD2AADProvisioning.1", "graph_url": "http://graph.microsoft.com"})}
	_, err := targetType{}.Open(t.Context(), cfg)
	if want := `adsync: target sync: graph_url "http://graph.microsoft.com" must be an https:// URL`; err == nil || err.Error() != want {
		t.Fatalf("Open = %v, want %q", err, want)
	}
}
