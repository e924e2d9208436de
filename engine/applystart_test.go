package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/lang"
	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/steps"
)

// countedRead ("test_counted_read") is a data type that counts its reads of
// each key. With rows it returns a list of that many user-like objects
// (built once per count, as a directory listing every user would return
// them); otherwise the key's value in the world. countedNext[key], when
// set, becomes the key's value right after the next read: a change made
// by someone else just after apply's drift check.
type countedRead struct{}

var (
	countedMu    sync.Mutex
	countedReads = map[string]int{}
	countedNext  = map[string]string{}
	countedRows  = map[int]cty.Value{}
)

func init() { steps.RegisterData(countedRead{}) }

func (countedRead) Info() steps.Info {
	return steps.Info{Name: "test_counted_read", Doc: "Test: reads a key, counting the reads.", Kind: steps.KindData,
		Schema:      steps.Schema{"key": {Type: cty.String, Required: true}, "rows": {Type: cty.Number}},
		Permissions: []string{"Test: Values.Read"}}
}

func (countedRead) Observe(ctx context.Context, c steps.Call) (steps.Observation, error) {
	k, _ := steps.String(c.Config, "key")
	countedMu.Lock()
	defer countedMu.Unlock()
	countedReads[k]++
	if r := c.Config.GetAttr("rows"); !r.IsNull() {
		n, _ := r.AsBigFloat().Int64()
		return steps.Observation{Object: "test:" + k, Value: userRows(int(n))}, nil
	}
	v := theWorld.get(k)
	if next, ok := countedNext[k]; ok {
		delete(countedNext, k)
		theWorld.set(k, next)
	}
	return steps.Observation{Object: "test:" + k, Value: cty.ObjectVal(map[string]cty.Value{
		"key": cty.StringVal(k), "value": cty.StringVal(v)})}, nil
}

// userRows is n user-like objects, about 150 bytes of JSON each; called
// with countedMu held.
func userRows(n int) cty.Value {
	if v, ok := countedRows[n]; ok {
		return v
	}
	rows := make([]cty.Value, n)
	for i := range rows {
		rows[i] = cty.ObjectVal(map[string]cty.Value{
			"id":                  cty.StringVal(fmt.Sprintf("00000000-0000-4000-8000-%012d", i)),
			"user_principal_name": cty.StringVal(fmt.Sprintf("user%06d@contoso.example", i)),
			"display_name":        cty.StringVal(fmt.Sprintf("User %06d", i)),
			"account_enabled":     cty.True,
		})
	}
	v := cty.ObjectVal(map[string]cty.Value{"users": cty.ListVal(rows)})
	countedRows[n] = v
	return v
}

func reads(key string) int {
	countedMu.Lock()
	defer countedMu.Unlock()
	return countedReads[key]
}

const readOnceSrc = `
runbook "read-once" {}

data "test_counted_read" "src" {
  key = "src"
}

step "test_value" "copy" {
  key   = "dst"
  value = data.test_counted_read.src.value
}
`

// TestApplyRunsOnTheDataItsDriftCheckRead: apply's drift check reads each
// data block and finds it as reviewed; the run then uses that value. It
// does not read the block a second time, which cost as much as the first
// read again (a listing of every user of a 100,000-user tenant) and could
// bring in a value nobody compared with the plan: here the source changes
// just after the drift check read it, and the run still writes the
// reviewed value. The journal records the value, for a resume.
func TestApplyRunsOnTheDataItsDriftCheckRead(t *testing.T) {
	h := newHarness(t)
	theWorld.set("src", "reviewed")
	p := h.plan(readOnceSrc, nil)
	before := reads("src")
	countedMu.Lock()
	countedNext["src"] = "changed after the drift check"
	countedMu.Unlock()
	rep, diags := h.e.Apply(context.Background(), p, Inputs{}, ApplyOptions{})
	if diags.HasErrors() || rep.Status != journal.StatusSucceeded {
		t.Fatalf("apply: %v, %+v\n%s", diags, rep, h.log.String())
	}
	if n := reads("src") - before; n != 1 {
		t.Errorf("apply read the data block %d times; want once, by its drift check", n)
	}
	if got := theWorld.get("dst"); got != "reviewed" {
		t.Errorf("the run wrote %q; want the value the drift check read and compared with the plan, %q", got, "reviewed")
	}
	recs, err := h.e.Store.Records(context.Background(), rep.RunID)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		if r.Kind != journal.KindOutcome || r.Step != "data.test_counted_read.src" {
			continue
		}
		var od outcomeData
		if err := json.Unmarshal(r.Data, &od); err != nil {
			t.Fatal(err)
		}
		v, err := decodeTyped(od.Observed)
		if err != nil || v == cty.NilVal {
			t.Fatalf("the journal's value of the data block: %v, %v", v, err)
		}
		if got := v.GetAttr("value").AsString(); got != "reviewed" || od.Object != "test:src" {
			t.Errorf("the journal records %q of %s; want %q of test:src", got, od.Object, "reviewed")
		}
		found = true
	}
	if !found {
		t.Errorf("the journal has no record of the data block's value (resume reads it there)")
	}
}

// TestALargeObservationIsNotEncodedWhole: a data block whose value is far
// larger than a plan stores (plan.MaxStoredObject) is noted with its exact
// size, as before, but its encoding stops at the limit and its fingerprint
// is hashed as it is made. Before, planning it built a redacted copy, a
// tree of Go maps and the whole JSON only to throw them away: 143 MB
// allocated for this 6 MB value (24 times its JSON), against 15 MB since,
// most of it go-cty's own iteration (a big.Float for each list index).
// The bound, 3 times the JSON, lies between.
func TestALargeObservationIsNotEncodedWhole(t *testing.T) {
	const rows = 40000
	h := newHarness(t)
	src := fmt.Sprintf("runbook \"large\" {}\n\ndata \"test_counted_read\" \"all\" {\n  key  = \"all\"\n  rows = %d\n}\n", rows)
	countedMu.Lock()
	v := userRows(rows)
	countedMu.Unlock()
	want := plan.EncodeValue(lang.Redact(v, false))
	if len(want) < 4*plan.MaxStoredObject {
		t.Fatalf("the value is %d bytes of JSON; the test needs it well over the limit", len(want))
	}
	h.plan(src, nil) // once, so that what is made once per process is made
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	p := h.plan(src, nil)
	runtime.ReadMemStats(&m1)
	alloc := m1.TotalAlloc - m0.TotalAlloc
	in := p.Steps[0].Instances[0]
	if !p.ObservedValue(in).IsZero() {
		t.Errorf("the plan stores the %d-byte observation", len(want))
	}
	if len(in.Notes) != 1 || in.Notes[0] != plan.TooLargeNote(len(want)) {
		t.Errorf("notes %q; want %q", in.Notes, plan.TooLargeNote(len(want)))
	}
	if in.Fingerprint != (&session{e: h.e}).fingerprint(v) {
		t.Errorf("fingerprint %s is not the value's", in.Fingerprint)
	}
	t.Logf("planning a %d-byte observation allocated %d bytes", len(want), alloc)
	if alloc > 3*uint64(len(want)) {
		t.Errorf("planning a %d-byte observation allocated %d bytes; want at most 3 times its JSON", len(want), alloc)
	}
}

// TestEncodeTypedMatchesCty: the journal's typed JSON of a value is cty's,
// whether it takes the one-walk way or, with marks or unknowns, cty's.
func TestEncodeTypedMatchesCty(t *testing.T) {
	for i, v := range []cty.Value{
		cty.StringVal("a<b>&\u2028é"),
		cty.ObjectVal(map[string]cty.Value{"n": cty.NumberFloatVal(1.5), "l": cty.ListVal([]cty.Value{cty.StringVal("x")}),
			"s": cty.SetVal([]cty.Value{cty.True, cty.False}), "m": cty.MapVal(map[string]cty.Value{"k": cty.NullVal(cty.String)})}),
		cty.ObjectVal(map[string]cty.Value{"secret": cty.StringVal("x").Mark(lang.Sensitive), "pii": cty.StringVal("u@x").Mark(lang.PII)}),
		cty.TupleVal([]cty.Value{cty.NumberIntVal(-7), cty.EmptyObjectVal, cty.NullVal(cty.DynamicPseudoType)}),
	} {
		got, err := encodeTyped(v)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := v.UnmarkDeep()
		tb, _ := ctyjson.MarshalType(u.Type())
		vb, _ := ctyjson.Marshal(u, u.Type())
		if string(got.Type) != string(tb) || string(got.Value) != string(vb) {
			t.Errorf("%d: encodeTyped = %s %s; cty: %s %s", i, got.Type, got.Value, tb, vb)
		}
	}
}

// TestStripSensitiveKeepsAnUnmarkedValue: a value with no mark is kept as
// it is (no copy); a marked one loses its marks, and a sensitive part is
// nulled, as before.
func TestStripSensitiveKeepsAnUnmarkedValue(t *testing.T) {
	plain := cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x"), "b": cty.ListVal([]cty.Value{cty.StringVal("y")})})
	if got, hid := stripSensitive(plain); hid || !got.RawEquals(plain) {
		t.Errorf("stripSensitive(plain) = %#v, %v", got, hid)
	}
	pii := cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x").Mark(lang.PII)})
	if got, hid := stripSensitive(pii); hid || got.ContainsMarked() || got.GetAttr("a").AsString() != "x" {
		t.Errorf("stripSensitive(pii) = %#v, %v", got, hid)
	}
	secret := cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x"), "b": cty.ListVal([]cty.Value{cty.StringVal("pw").Mark(lang.Sensitive)})})
	if got, hid := stripSensitive(secret); !hid || got.ContainsMarked() || strings.Contains(got.GoString(), "pw") {
		t.Errorf("stripSensitive(secret) = %#v, %v", got, hid)
	}
}

// logSignal is a log that interrupts the run (interruptible's context) once
// a line containing its text is written.
type logSignal struct {
	w    io.Writer
	text string
	once sync.Once
}

func signalOnLog(w io.Writer, text string) *logSignal { return &logSignal{w: w, text: text} }

func (l *logSignal) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if strings.Contains(string(p), l.text) {
		l.once.Do(func() {
			stopping.Lock()
			interrupt := stopping.interrupt
			stopping.Unlock()
			interrupt(errSignal)
		})
	}
	return n, err
}
