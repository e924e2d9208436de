package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/steps"
)

// Run with: go test -run '^$' -bench Show100k -benchmem -benchtime 3x ./cli/
//
// BenchmarkShow100k times `rebind show PLAN` (runShow: read the file,
// render it, check it against its runbook's sources) on a plan of
// testdata/fanout-100k over 100,000 users, all already so, and with 1,000
// changes among them, in the text and JSON formats. The plan is made as
// the engine makes it against the lab's healthy-100k scenario (the data
// read of every AD user is larger than a plan stores, so it is kept by
// fingerprint), without the lab: observing 100,000 users is not what this
// measures. It reports the plan file's size as file-MB.
func BenchmarkShow100k(b *testing.B) {
	for _, c := range []struct {
		name    string
		changes int
	}{{"unchanged", 0}, {"1000-changes", 1000}} {
		b.Run(c.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "100k.plan")
			if err := fanOut100kPlan(b, 100_000, c.changes).Write(path); err != nil {
				b.Fatal(err)
			}
			st, _ := os.Stat(path)
			for _, format := range []string{"text", "json"} {
				b.Run(format, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if err := runShow(&showOptions{IO: &IO{Out: io.Discard, Err: io.Discard}, Path: path, Format: format, Now: time.Now}); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(st.Size())/1e6, "file-MB")
				})
			}
		})
	}
}

// fanOut100kPlan is a plan of testdata/fanout-100k/main.hcl over n users,
// every n/changes-th of which changes its immutable ID.
func fanOut100kPlan(b testing.TB, n, changes int) *plan.Plan {
	src, err := os.ReadFile(filepath.Join("testdata", "fanout-100k", "main.hcl"))
	if err != nil {
		b.Fatal(err)
	}
	created := time.Now().UTC().Truncate(time.Second)
	p := &plan.Plan{
		FormatVersion: plan.FormatVersion,
		Runbook: plan.Runbook{Name: "fanout-100k", Title: "Stamp every AD user's objectGUID as its cloud user's immutable ID",
			Digest: plan.SourcesDigest(map[string][]byte{"main.hcl": src}), Sources: map[string]string{"main.hcl": string(src)}},
		Inputs: map[string]plan.Value{},
		Targets: []plan.Target{
			{Type: "ad", Name: "corp", Config: value(b, `{"base_dn":null,"url":"ldap://127.0.0.1:1389"}`)},
			{Type: "entra", Name: "tenant", Config: value(b, `{"tenant_id":"contoso.onmicrosoft.com"}`)},
		},
		Author: "dave", Created: created, Expires: created.Add(24 * time.Hour),
	}
	var perms []string
	header := func(addr, mode, typ string) plan.Step {
		t, ok := steps.Lookup(typ)
		if !ok {
			b.Fatalf("no step type %s", typ)
		}
		perms = append(perms, t.Info().Permissions...)
		return plan.NewStep(addr, mode, typ, t.Info())
	}
	data := header("data.ad_users.all", "data", "ad_users")
	data.Instances = append(data.Instances, plan.Instance{Address: "data.ad_users.all", Action: "read",
		Object: "ad:users:(userPrincipalName=*)", Fingerprint: hex.EncodeToString(make([]byte, 32)),
		Notes: []string{"what was observed (54,500,000 bytes of JSON) is larger than a plan stores (1,048,576 bytes): the plan keeps its fingerprint, which apply compares, not the object"}})
	st := header("step.entra_immutable_id.anchor", "step", "entra_immutable_id")
	every := 0
	if changes > 0 {
		every = n / changes
	}
	for i := range n {
		upn := fmt.Sprintf("user%06d@contoso.com", i)
		sum := sha256.Sum256([]byte(upn))
		id := fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
		if every == 0 || i%every != 0 {
			st.Unchanged = append(st.Unchanged, plan.Unchanged{Key: upn, Object: "entra:user:" + id, Fingerprint: hex.EncodeToString(sum[:])})
			continue
		}
		st.Instances = append(st.Instances, plan.Instance{Address: plan.UnchangedAddress(st.Address, upn), Key: upn,
			Object: "entra:user:" + id, Fingerprint: hex.EncodeToString(sum[:]), Action: "update",
			Observed: value(b, fmt.Sprintf(`{"deleted":false,"id":%q,"immutable_id":"b2xkYW5jaG9y","mail":%q,"proxy_addresses":["SMTP:%s"],"sync_enabled":true,"upn":%q}`, id, upn, upn, upn)),
			Before:   value(b, `{"anchor_guid":"6c6f646f-6e61-6863-6f72-000000000000","immutable_id":"b2xkYW5jaG9y"}`),
			After:    value(b, fmt.Sprintf(`{"anchor_guid":%q,"immutable_id":"bmV3YW5jaG9y"}`, id))})
	}
	p.Steps = []plan.Step{data, st}
	slices.Sort(perms)
	p.Permissions = slices.Compact(perms)
	p.StoreObservedOnce()
	return p
}

func value(b testing.TB, s string) plan.Value {
	var v plan.Value
	if err := v.UnmarshalJSON([]byte(s)); err != nil {
		b.Fatal(err)
	}
	return v
}

// rebind show summarises a plan of more than 100 instances and says how to
// see the rest; --full lists them, --json gives the whole plan.
func TestShowSummarisesALargeFanOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "300.plan")
	if err := fanOut100kPlan(t, 300, 150).Write(path); err != nil {
		t.Fatal(err)
	}
	show := func(args ...string) (int, string) {
		var out, errs strings.Builder
		code := Main(append([]string{"show"}, args...), strings.NewReader(""), &out, &errs)
		return code, out.String() + errs.String()
	}
	code, out := show(path)
	for _, want := range []string{"150 to update", "150 already so", "Listed       the first 100 of 150 changes; 301 instances in all",
		"step.entra_immutable_id.anchor: 150 already so, 50 to update", "rebind show --full " + path, "rebind show --json " + path} {
		if !strings.Contains(out, want) {
			t.Errorf("show has no %q:\n%s", want, out)
		}
	}
	if code != 0 || strings.Count(out, "(update)") != 100 || strings.Contains(out, "(no-op)") {
		t.Errorf("show (exit %d) lists %d updates and unchanged instances:\n%s", code, strings.Count(out, "(update)"), out)
	}
	if code, out = show("--full", path); code != 0 || strings.Count(out, "(update)") != 150 || strings.Count(out, "(no-op)") != 150 {
		t.Errorf("show --full (exit %d) lists %d updates and %d unchanged", code, strings.Count(out, "(update)"), strings.Count(out, "(no-op)"))
	}
	if code, out = show("--json", path); code != 0 || !strings.Contains(out, `"format_version": 2`) || !strings.Contains(out, `"unchanged": [`) {
		t.Errorf("show --json (exit %d):\n%.300s", code, out)
	}
	if code, out = show("--json", "--format", "markdown", path); code == 0 || !strings.Contains(out, "--json and --format markdown") {
		t.Errorf("show --json --format markdown (exit %d): %s", code, out)
	}
}
