package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rebind-dev/rebind/engine/plan"
	"github.com/rebind-dev/rebind/steps"
)

// bulkValueType ("test_bulk_value") is test_value that also observes many
// instances at once, counting its calls. mode "short" returns one result
// too few; "fail" fails the whole set.
type bulkValueType struct{ valueType }

var bulkCalls struct {
	sync.Mutex
	many, single, instances int
	mode                    string
}

func (bulkValueType) Info() steps.Info {
	i := valueType{}.Info()
	i.Name = "test_bulk_value"
	return i
}

func (b bulkValueType) Observe(ctx context.Context, c steps.Call) (steps.Observation, error) {
	bulkCalls.Lock()
	bulkCalls.single++
	bulkCalls.Unlock()
	return b.valueType.Observe(ctx, c)
}

func (b bulkValueType) ObserveMany(ctx context.Context, calls []steps.Call) ([]steps.BulkResult, error) {
	bulkCalls.Lock()
	bulkCalls.many++
	bulkCalls.instances += len(calls)
	mode := bulkCalls.mode
	bulkCalls.Unlock()
	switch mode {
	case "fail":
		return nil, steps.Permanent(errors.New("test: the directory refused the bulk read"))
	case "short":
		calls = calls[1:]
	}
	out := make([]steps.BulkResult, len(calls))
	for i, c := range calls {
		out[i].Observation, out[i].Err = b.valueType.Observe(ctx, c)
	}
	return out, nil
}

func init() { steps.Register(bulkValueType{}) }

func resetBulkCalls(mode string) {
	bulkCalls.Lock()
	defer bulkCalls.Unlock()
	bulkCalls.many, bulkCalls.single, bulkCalls.instances, bulkCalls.mode = 0, 0, 0, mode
}

const bulkFanOut = header + `
variable "keys" {
  type = list(string)
}

step "TYPE" "each" {
  for_each = toset(var.keys)
  key      = each.key
  value    = each.key == "k03" ? "changed" : "v-${each.key}"
}

step "TYPE" "one" {
  key   = "single"
  value = "x"
}
`

// TestBulkObserverPlansAFanOutAtOnce: the instances of a fan-out whose type
// implements steps.BulkObserver are observed with one ObserveMany call, a
// step with one instance with Observe; the plan is the one the same type
// without the capability gives; apply's drift check observes the same way
// and names the one instance that changed among many.
func TestBulkObserverPlansAFanOutAtOnce(t *testing.T) {
	h := newHarness(t)
	var keys []string
	for i := range 40 {
		k := fmt.Sprintf("k%02d", i)
		keys = append(keys, `"`+k+`"`)
		theWorld.set(k, "v-"+k)
	}
	vars := map[string]string{"keys": "[" + strings.Join(keys, ",") + "]"}
	resetBulkCalls("")
	bulk := h.plan(strings.ReplaceAll(bulkFanOut, "TYPE", "test_bulk_value"), vars)
	if bulkCalls.many != 1 || bulkCalls.instances != 40 || bulkCalls.single != 1 {
		t.Fatalf("plan: %d ObserveMany calls for %d instances, %d Observe calls; want 1, 40, 1 (the step without for_each)",
			bulkCalls.many, bulkCalls.instances, bulkCalls.single)
	}
	plain := h.plan(strings.ReplaceAll(bulkFanOut, "TYPE", "test_value"), vars)
	if len(bulk.Steps) != len(plain.Steps) {
		t.Fatalf("%d steps, want %d", len(bulk.Steps), len(plain.Steps))
	}
	all := func(s *plan.Step) []plan.Instance {
		var out []plan.Instance
		s.All(func(in plan.Instance, _ bool) bool { out = append(out, in); return true })
		return out
	}
	for i := range plain.Steps {
		b, p := all(&bulk.Steps[i]), all(&plain.Steps[i])
		if len(b) != len(p) || len(p) == 0 {
			t.Fatalf("step %d: %d instances, want %d", i, len(b), len(p))
		}
		for j := range p {
			if b[j].Key != p[j].Key || b[j].Object != p[j].Object || b[j].Fingerprint != p[j].Fingerprint ||
				b[j].Action != p[j].Action || b[j].Before.String() != p[j].Before.String() || b[j].After.String() != p[j].After.String() {
				t.Fatalf("%s: bulk %+v\nalone %+v", p[j].Address, b[j], p[j])
			}
		}
	}

	resetBulkCalls("")
	theWorld.set("k17", "someone else")
	rep, diags := h.e.Apply(context.Background(), bulk, Inputs{Vars: vars}, ApplyOptions{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if len(rep.Drift) != 1 || rep.Drift[0].Address != `step.test_bulk_value.each["k17"]` {
		t.Fatalf("drift = %+v", rep.Drift)
	}
	if bulkCalls.many != 1 || bulkCalls.single != 1 {
		t.Fatalf("the drift check made %d ObserveMany and %d Observe calls, want 1 and 1", bulkCalls.many, bulkCalls.single)
	}
}

// TestBulkObserverErrors: a bulk read that fails, or answers for fewer
// instances than it was given, fails the plan with an error that names the
// step.
func TestBulkObserverErrors(t *testing.T) {
	h := newHarness(t)
	vars := map[string]string{"keys": `["a","b","c"]`}
	for mode, want := range map[string]string{
		"fail":  "observe 3 instances at once: test: the directory refused the bulk read",
		"short": "step type test_bulk_value observed 3 instances at once and returned 2 results",
	} {
		resetBulkCalls(mode)
		_, diags := h.e.Plan(context.Background(), h.load(strings.ReplaceAll(bulkFanOut, "TYPE", "test_bulk_value")), Inputs{Vars: vars}, PlanOptions{})
		if !diags.HasErrors() || !strings.Contains(diags.Error(), want) || !strings.Contains(diags.Error(), "step.test_bulk_value.each") {
			t.Errorf("%s: %v", mode, diags)
		}
	}
}
