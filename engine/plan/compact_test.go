package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// fanOutPlan is a plan of one entra_immutable_id fan-out over n users, of
// which the first `changes` (every n/changes-th user) change their
// immutable ID and the others are already so: the shapes a 100,000-user
// plan of the lab's healthy-100k scenario has (UPN keys, object ids,
// SHA-256 fingerprints, the user as Graph's user resource maps it).
func fanOutPlan(n, changes int) *Plan {
	created := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	st := Step{Address: "step.entra_immutable_id.anchor", Mode: "step", Type: "entra_immutable_id", Kind: "ensure",
		Reversibility: "reversible", RepeatSafe: true, Permissions: []string{"Graph: User.ReadWrite.All"}, Instances: []Instance{}}
	every := 0
	if changes > 0 {
		every = n / changes
	}
	for i := range n {
		key := fmt.Sprintf("user%06d@contoso.com", i)
		sum := sha256.Sum256([]byte(key))
		id := fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
		fp := hex.EncodeToString(sum[:])
		if every == 0 || i%every != 0 || i/every >= changes {
			st.Unchanged = append(st.Unchanged, Unchanged{Key: key, Object: "entra:user:" + id, Fingerprint: fp})
			continue
		}
		obs := fmt.Sprintf(`{"deleted":false,"id":%q,"immutable_id":"b2xkYW5jaG9y","last_sync":"2026-01-05T08:30:00Z","licenses":["ENTERPRISEPACK"],"mail":%q,"proxy_addresses":["SMTP:%s"],"sync_enabled":true,"upn":%q}`, id, key, key, key)
		st.Instances = append(st.Instances, Instance{
			Address: UnchangedAddress(st.Address, key), Key: key, Object: "entra:user:" + id, Fingerprint: fp,
			Observed: mustValue(obs), Action: "update",
			Before: mustValue(`{"anchor_guid":"6c6f646f-6e61-6863-6f72-000000000000","immutable_id":"b2xkYW5jaG9y"}`),
			After:  mustValue(fmt.Sprintf(`{"anchor_guid":%q,"immutable_id":"bmV3YW5jaG9y"}`, id)),
		})
	}
	p := &Plan{
		FormatVersion: FormatVersion,
		Runbook:       Runbook{Name: "fanout", Digest: strings.Repeat("0", 64), Sources: map[string]string{"main.hcl": "# fan-out\n"}},
		Inputs:        map[string]Value{},
		Targets:       []Target{{Type: "entra", Name: "tenant", Config: mustValue(`{}`)}},
		Steps:         []Step{st},
		Permissions:   []string{"Graph: User.ReadWrite.All"},
		Author:        "dave",
		Created:       created,
		Expires:       created.Add(24 * time.Hour),
	}
	p.StoreObservedOnce()
	return p
}

func mustValue(s string) Value {
	var v Value
	if err := v.UnmarshalJSON([]byte(s)); err != nil {
		panic(err)
	}
	return v
}

// The digest covers every unchanged instance's fingerprint: a plan file
// edited in one of them no longer carries the approvals it was signed
// with.
func TestEditedUnchangedFingerprintVoidsApprovals(t *testing.T) {
	p := fanOutPlan(1000, 10)
	p.Approvals.Required = 1
	signer := fixedSigner(t, 7)
	if _, err := Sign(p, signer, testNow); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "fan.plan")
	if err := p.Write(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	victim := p.Steps[0].Unchanged[500].Fingerprint
	if bytes.Count(b, []byte(victim)) != 1 {
		t.Fatalf("fingerprint %s appears %d times in the file", victim, bytes.Count(b, []byte(victim)))
	}
	os.WriteFile(path, bytes.Replace(b, []byte(victim), []byte(strings.Repeat("f", 64)), 1), 0o600)
	back, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Digest() == p.Digest() {
		t.Fatal("the digest does not change with an unchanged instance's fingerprint")
	}
	as, _ := ParseAllowedSigners(strings.NewReader("bob@corp.example.com "+AuthorizedKey(signer.PublicKey())+"\n"), "allowed")
	if _, err := Verify(back, as, testNow); !errors.Is(err, ErrWrongDigest) {
		t.Fatalf("verify after the edit: %v, want ErrWrongDigest", err)
	}
	unedited, _ := Read(path)
	unedited.Steps[0].Unchanged[500].Fingerprint = victim
	if _, err := Verify(unedited, as, testNow); err != nil {
		t.Fatalf("verify with the fingerprint put back: %v", err)
	}
}

// A version 1 plan (observed objects inline, every instance whole) is
// still read, with the digest it was made with: runs journaled by an
// earlier rebind keep theirs, and resume and rollback read it. Apply
// refuses it (CheckApplyVersion).
func TestVersion1PlansAreReadNotApplied(t *testing.T) {
	// In canonical order, as rebind wrote it: its digest is the SHA-256
	// of these bytes.
	v1 := `{"format_version":1,"runbook":{"name":"r","digest":"d","sources":{"main.hcl":"x"}},"inputs":{},"targets":[],` +
		`"steps":[{"address":"step.test_value.each","mode":"step","type":"test_value","kind":"ensure","reversibility":"reversible","repeat_safe":true,"instances":[` +
		`{"address":"step.test_value.each[\"a\"]","key":"a","object":"test:a","fingerprint":"f1","observed":{"key":"a","value":"1"},"action":"no-op"}]}],` +
		`"permissions":[],"approvals":{"required":0},"author":"dave","created":"2026-11-20T09:30:00Z","expires":"2026-11-21T09:30:00Z"}`
	p, err := Decode([]byte(v1), "old.plan")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(v1))
	if p.Digest() != hex.EncodeToString(sum[:]) {
		t.Errorf("a version 1 plan's digest changed: %s, want %x\n%s", p.Digest(), sum, p.CanonicalBytes())
	}
	if got := p.ObservedValue(p.Steps[0].Instances[0]).String(); got != `{"key":"a","value":"1"}` {
		t.Errorf("observed = %s", got)
	}
	err = CheckApplyVersion(p)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "format version 1") || !strings.Contains(err.Error(), "format version 2") {
		t.Errorf("CheckApplyVersion = %v, want a refusal naming both versions", err)
	}
	if err := CheckApplyVersion(fanOutPlan(3, 1)); err != nil {
		t.Errorf("CheckApplyVersion of a version 2 plan: %v", err)
	}
}

// Decode refuses a file whose layout is not its format version's, naming
// the file, the version and the step, instance or object.
func TestDecodeRefusesBadLayout(t *testing.T) {
	fan := fanOutPlan(20, 2)
	good := fan.CanonicalBytes()
	// The first instance's object, and the object the canonical bytes
	// list first (keys in order): both chosen, never a map's random pick.
	ref := fan.Steps[0].Instances[0].ObservedRef
	first := slices.Sorted(maps.Keys(fan.Objects))[0]
	rowA, rowB := `["user000001@contoso.com",`, `["user000002@contoso.com",`
	fp := fanOutPlan(20, 2).Steps[0].Unchanged[0].Fingerprint
	for _, c := range []struct {
		name, from, to, want string
	}{
		{"unknown version", `"format_version":2`, `"format_version":3`, "bad.plan: format version 3, this rebind reads 1 and 2"},
		{"version 2 fields in version 1", `"format_version":2`, `"format_version":1`, "objects: not a field of format version 1"},
		{"dangling ref", `"observed_ref":"` + ref, `"observed_ref":"sha256:00`, "instance step.entra_immutable_id.anchor[\"user000000@contoso.com\"]: observed_ref sha256:00"},
		{"object under another digest", `"objects":{"` + first, `"objects":{"sha256:00`, "the object's digest is"},
		{"rows out of order", rowA, rowB, "unchanged[1]: key \"user000002@contoso.com\" is not after"},
		{"short row", rowA, `["user000001@contoso.com"],["x",`, "a row of three strings"},
		{"no fingerprint", `,"` + fp + `"]`, `,""]`, "has no fingerprint"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !bytes.Contains(good, []byte(c.from)) {
				t.Fatalf("the plan has no %s", c.from)
			}
			_, err := Decode(bytes.Replace(good, []byte(c.from), []byte(c.to), 1), "bad.plan")
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.plan") {
				t.Errorf("Decode = %v, want %q", err, c.want)
			}
		})
	}
}

// An observed object larger than MaxStoredObject is recorded by its
// fingerprint, with a note saying so; smaller ones are stored once,
// however many instances observed them.
func TestStoreObservedOnce(t *testing.T) {
	big := mustValue(`{"users":["` + strings.Repeat("u", MaxStoredObject) + `"]}`)
	same := mustValue(`{"id":"1"}`)
	p := &Plan{Steps: []Step{{Instances: []Instance{
		{Address: "data.x.all", Fingerprint: "f", Observed: big, Action: "read"},
		{Address: "step.y.a", Fingerprint: "g", Observed: same, Action: "update"},
		{Address: "step.z.a", Fingerprint: "g", Observed: same, Action: "update"},
	}}}}
	p.StoreObservedOnce()
	ins := p.Steps[0].Instances
	if !ins[0].Observed.IsZero() || ins[0].ObservedRef != "" || len(ins[0].Notes) != 1 || !strings.Contains(ins[0].Notes[0], "the plan keeps its fingerprint") {
		t.Errorf("the large observation: %+v", ins[0].Notes)
	}
	if len(p.Objects) != 1 || ins[1].ObservedRef != ins[2].ObservedRef || p.ObservedValue(ins[2]).String() != `{"id":"1"}` {
		t.Errorf("objects %v, refs %s %s", p.Objects, ins[1].ObservedRef, ins[2].ObservedRef)
	}
}

// A large fan-out is summarised in every rendering: the counts by
// action, the first MaxListed changes, what is not listed by step, and
// where to see the rest. --full lists everything.
func TestRenderingsSummariseALargeFanOut(t *testing.T) {
	p := fanOutPlan(20_000, 1000)
	render := map[string]func(full bool) string{
		"text": func(full bool) string {
			var b bytes.Buffer
			if err := RenderText(&b, p, TextOptions{Full: full, PlanFile: "big.plan"}); err != nil {
				t.Fatal(err)
			}
			return b.String()
		},
		"markdown": func(full bool) string {
			var b bytes.Buffer
			if err := RenderMarkdown(&b, p, RenderOptions{Full: full, PlanFile: "big.plan"}); err != nil {
				t.Fatal(err)
			}
			return b.String()
		},
		"html": func(full bool) string {
			var b bytes.Buffer
			if err := RenderHTML(&b, p, RenderOptions{Full: full, PlanFile: "big.plan"}); err != nil {
				t.Fatal(err)
			}
			return b.String()
		},
	}
	for name, r := range render {
		t.Run(name, func(t *testing.T) {
			out := r(false)
			for _, want := range []string{
				"1000 to update", "19000 already so", // Summary's counts
				"100", "1,000", "20,000", // listed, changes, instances
				"19,000 already so, 900 to update", // the step's instances not listed
				"rebind show --full big.plan", "rebind show --json big.plan",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("summarised %s has no %q", name, want)
				}
			}
			if n := strings.Count(out, "bmV3YW5jaG9y"); n != MaxListed {
				t.Errorf("summarised %s shows %d changes, want the first %d", name, n, MaxListed)
			}
			if strings.Contains(out, "user019999@contoso.com") || len(out) > 200_000 {
				t.Errorf("summarised %s is %d bytes and lists unchanged instances", name, len(out))
			}
			full := r(true)
			if n := strings.Count(full, "bmV3YW5jaG9y"); n != 1000 {
				t.Errorf("%s --full shows %d changes, want 1000", name, n)
			}
			if !strings.Contains(full, "user019999@contoso.com") || strings.Contains(full, "Not listed") {
				t.Errorf("%s --full does not list every instance", name)
			}
		})
	}
}

// A plan of at most MaxListed instances is listed whole, its unchanged
// instances in key order among the others, as before plans were
// summarised.
func TestSmallFanOutIsListedWhole(t *testing.T) {
	p := fanOutPlan(10, 2)
	var b bytes.Buffer
	if err := RenderText(&b, p, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	var got []string
	for line := range strings.SplitSeq(out, "\n") {
		if strings.Contains(line, "step.entra_immutable_id.anchor[") {
			got = append(got, line[:strings.Index(line, "]")+1])
		}
	}
	want := []string{"~  step.entra_immutable_id.anchor[\"user000000@contoso.com\"]"}
	for i := 1; i < 10; i++ {
		sym := " "
		if i == 5 {
			sym = "~"
		}
		want = append(want, fmt.Sprintf("%s  step.entra_immutable_id.anchor[\"user%06d@contoso.com\"]", sym, i))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || strings.Contains(out, "Not listed") {
		t.Errorf("listing:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The file keeps a row of an unchanged instance on one line and reads
// back as the same JSON.
func TestWriteKeepsRowsOnOneLine(t *testing.T) {
	p := fanOutPlan(50, 5)
	path := filepath.Join(t.TempDir(), "p.plan")
	if err := p.Write(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	u := p.Steps[0].Unchanged[3]
	if !bytes.Contains(b, []byte(fmt.Sprintf("\n        [%q, %q, %q]", u.Key, u.Object, u.Fingerprint))) {
		t.Errorf("no row of %s on one line:\n%s", u.Key, b)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(p)
	if !bytes.Equal(bytes.ReplaceAll(compact.Bytes(), []byte(`", "`), []byte(`","`)), want) {
		t.Errorf("the file is not the plan's JSON")
	}
}
