package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/engine/journal"
)

// diagSrc fails two postconditions at apply. promote's condition refers to
// the observed value and to a sensitive variable; cred writes the
// sensitive variable and its condition reads it back from the object.
const diagSrc = header + `
variable "pw" {
  type      = string
  sensitive = true
}

step "test_value" "promote" {
  key   = "stage"
  value = "live"
  postcondition {
    condition     = self.observed.value == "ready" || var.pw == "nope"
    error_message = "stage moved on from ready."
  }
  on_failure = continue
}

step "test_value" "cred" {
  key   = "cred"
  value = var.pw
  postcondition {
    condition     = self.observed.value == "nope"
    error_message = "the credential is not the expected one."
  }
  on_failure = continue
}
`

func diagCanary(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "Canary-D-" + hex.EncodeToString(b)
}

// A postcondition that fails at apply keeps its diagnostic through apply:
// the report and the journal's record name the file, line and column of
// the condition and the values it used, and a sensitive value among them
// reads "(sensitive)" (or is scrubbed), never its value.
func TestApplyKeepsConditionDiagnostics(t *testing.T) {
	h := newHarness(t)
	secret := diagCanary(t)
	rep := h.apply(diagSrc, map[string]string{"pw": secret})
	if len(rep.Failures) != 2 {
		t.Fatalf("failures %+v, want promote's and cred's\n%s", rep.Failures, h.log.String())
	}
	byAddr := map[string]InstanceError{}
	for _, f := range rep.Failures {
		byAddr[f.Address] = f
	}
	promote := byAddr["step.test_value.promote"]
	if len(promote.Diagnostics) != 1 {
		t.Fatalf("promote's failure %+v, want one diagnostic", promote)
	}
	d := promote.Diagnostics[0]
	if d.Summary != "Postcondition failed" || d.Detail != "stage moved on from ready." {
		t.Errorf("diagnostic %q: %q", d.Summary, d.Detail)
	}
	// The condition is on line 12 of main.hcl, from column 21.
	if d.Range == nil || d.Range.String() != "main.hcl:12:21" || d.Range.EndLine != 12 {
		t.Errorf("range %+v, want main.hcl:12:21", d.Range)
	}
	if got := valuesText(d); got != `self.observed.value = "live"; var.pw = "(sensitive)"` {
		t.Errorf("values %q", got)
	}
	if promote.Err != d.String() || !strings.HasPrefix(promote.Err, "main.hcl:12: Postcondition failed") {
		t.Errorf("Err %q, diagnostic text %q", promote.Err, d.String())
	}
	cred := byAddr["step.test_value.cred"]
	if len(cred.Diagnostics) != 1 || cred.Diagnostics[0].Range == nil || cred.Diagnostics[0].Range.Line != 22 {
		t.Fatalf("cred's failure %+v, want a diagnostic at line 22", cred)
	}
	if got := valuesText(cred.Diagnostics[0]); strings.Contains(got, secret) || !strings.HasPrefix(got, "self.observed.value = ") {
		t.Errorf("cred's values %q show the secret or not the observed value", got)
	} else {
		t.Logf("cred's values: %s", got)
	}

	// The journal keeps them in the note of each failed postcondition.
	recs, err := h.e.Store.Records(context.Background(), rep.RunID)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, r := range recs {
		if strings.Contains(string(r.Data), secret) || strings.Contains(r.Error, secret) {
			t.Errorf("record %d (%s) holds the secret: %s %s", r.Seq, r.Kind, r.Data, r.Error)
		}
		if r.Kind != journal.KindNote || r.Step != "step.test_value.promote" {
			continue
		}
		var fd FailureData
		if err := json.Unmarshal(r.Data, &fd); err != nil {
			t.Fatalf("record %d: %v: %s", r.Seq, err, r.Data)
		}
		if len(fd.Diagnostics) != 1 || fd.Diagnostics[0].Range == nil || fd.Diagnostics[0].Range.String() != "main.hcl:12:21" ||
			valuesText(fd.Diagnostics[0]) != `self.observed.value = "live"; var.pw = "(sensitive)"` {
			t.Errorf("record %d keeps %s", r.Seq, r.Data)
		}
		found++
	}
	if found != 1 {
		t.Errorf("%d notes for promote's postcondition, want 1", found)
	}
	if b, _ := json.Marshal(rep); strings.Contains(string(b), secret) {
		t.Errorf("the report holds the secret: %s", b)
	}
}

// A precondition that holds at plan and fails at apply, because an
// earlier step changed the object, is kept in the journal's failure
// record with its range and values.
func TestApplyKeepsPreconditionInFailureRecord(t *testing.T) {
	h := newHarness(t)
	theWorld.set("stage", "ready")
	src := header + `
step "test_value" "stage" {
  key   = "stage"
  value = "draft"
}

step "test_value" "promote" {
  key   = "stage"
  value = "live"
  precondition {
    condition     = self.observed.value == "ready"
    error_message = "stage must be ready first."
  }
  on_failure = abort
}
`
	rep := h.apply(src, nil)
	if len(rep.Failures) != 1 || len(rep.Failures[0].Diagnostics) != 1 {
		t.Fatalf("failures %+v\n%s", rep.Failures, h.log.String())
	}
	recs, err := h.e.Store.Records(context.Background(), rep.RunID)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Kind != journal.KindFailure {
			continue
		}
		var fd FailureData
		if err := json.Unmarshal(r.Data, &fd); err != nil {
			t.Fatalf("failure record %d: %v: %q", r.Seq, err, r.Data)
		}
		if len(fd.Diagnostics) != 1 {
			t.Fatalf("failure record keeps %s", r.Data)
		}
		d := fd.Diagnostics[0]
		if d.Summary != "Precondition failed" || d.Range == nil || d.Range.String() != "main.hcl:12:21" ||
			valuesText(d) != `self.observed.value = "draft"` {
			t.Errorf("failure record keeps %s", r.Data)
		}
		if r.Error != d.String() {
			t.Errorf("record error %q, diagnostic %q: the text must stay as it was", r.Error, d.String())
		}
		return
	}
	t.Fatalf("no failure record in %+v", recs)
}

func valuesText(d Diagnostic) string {
	var parts []string
	for _, v := range d.Values {
		parts = append(parts, v.Text())
	}
	return strings.Join(parts, "; ")
}
