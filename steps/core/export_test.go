package core

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

// valueMark stands in for the language's mark type, a string kind.
type valueMark string

func users() cty.Value {
	return cty.TupleVal([]cty.Value{
		cty.ObjectVal(map[string]cty.Value{
			"upn":          str("bob@contoso.com"),
			"display_name": str(`Bob "The Builder", Jr.`),
			"enabled":      cty.True,
			"proxy":        strs("SMTP:bob@contoso.com", "smtp:b@contoso.com"),
		}),
		cty.ObjectVal(map[string]cty.Value{
			"upn":          str("al@contoso.com"),
			"display_name": str("Al\nSmith"),
			"immutable_id": cty.NullVal(cty.String),
			"age_days":     cty.NumberIntVal(42),
		}),
	})
}

func TestExportCSVQuotingAndColumns(t *testing.T) {
	run := &fakeRun{id: "r", dir: t.TempDir()}
	call := newCall(t, Export{}, "step.export.baseline", run, map[string]cty.Value{
		"path": str("baseline.csv"), "rows": users(),
	})
	ch, _ := apply(t, Export{}, call)
	if ch.Action != steps.Create {
		t.Fatalf("Action = %s, want create", ch.Action)
	}
	got, mode := readFile(t, filepath.Join(run.dir, "baseline.csv"))
	want := "age_days,display_name,enabled,immutable_id,proxy,upn\r\n" +
		`,"Bob ""The Builder"", Jr.",true,,"[""SMTP:bob@contoso.com"",""smtp:b@contoso.com""]",bob@contoso.com` + "\r\n" +
		"42,\"Al\r\nSmith\",,,,al@contoso.com\r\n"
	if got != want {
		t.Errorf("CSV:\n%q\nwant:\n%q", got, want)
	}
	if mode != 0o600 {
		t.Errorf("mode = %04o, want 0600 for a baseline of personal data", mode)
	}

	call = newCall(t, Export{}, "step.export.baseline", run, map[string]cty.Value{
		"path": str("upns.csv"), "rows": users(), "columns": strs("upn", "enabled"),
	})
	apply(t, Export{}, call)
	got, _ = readFile(t, filepath.Join(run.dir, "upns.csv"))
	if want := "upn,enabled\r\nbob@contoso.com,true\r\nal@contoso.com,\r\n"; got != want {
		t.Errorf("CSV with columns = %q, want %q", got, want)
	}
}

func TestExportJSONIsDeterministicAndIdempotent(t *testing.T) {
	run := &fakeRun{id: "r", dir: t.TempDir()}
	call := newCall(t, Export{}, "step.export.baseline", run, map[string]cty.Value{
		"path": str("out/../baseline.json"), "rows": users(), "columns": strs("upn", "age_days"),
	})
	apply(t, Export{}, call)
	abs := filepath.Join(run.dir, "baseline.json")
	got, _ := readFile(t, abs)
	want := `[
  {
    "age_days": null,
    "upn": "bob@contoso.com"
  },
  {
    "age_days": 42,
    "upn": "al@contoso.com"
  }
]
`
	if got != want {
		t.Errorf("JSON:\n%s\nwant:\n%s", got, want)
	}
	obs, again := plan(t, Export{}, call)
	if again.Action != steps.NoOp {
		t.Errorf("export of the same rows: Action = %s, want no-op", again.Action)
	}
	if obs.Object != "file:"+abs {
		t.Errorf("Object = %q", obs.Object)
	}
	res, err := (Export{}).Apply(context.Background(), call, again)
	if err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if res.Value.GetAttr("path").AsString() != abs {
		t.Errorf("result = %#v", res.Value)
	}
}

func TestExportRevertRestoresPreviousBaseline(t *testing.T) {
	abs := existingFile(t, "b.json", []byte("[]\n"), 0o640)
	call := newCall(t, Export{}, "step.export.b", nil, map[string]cty.Value{
		"path": str(abs), "rows": users(),
	})
	ch, _ := apply(t, Export{}, call)
	if ch.Action != steps.Update {
		t.Fatalf("Action = %s, want update", ch.Action)
	}
	if got, mode := readFile(t, abs); !strings.Contains(got, "bob@contoso.com") || mode != 0o640 {
		t.Errorf("after apply: %q %04o (an existing export keeps its mode)", got, mode)
	}
	if err := (Export{}).Revert(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	if got, _ := readFile(t, abs); got != "[]\n" {
		t.Errorf("after revert: %q", got)
	}
}

func TestExportRefusesSensitiveValues(t *testing.T) {
	rows := cty.TupleVal([]cty.Value{
		cty.ObjectVal(map[string]cty.Value{"upn": str("a@contoso.com"), "password": str("x")}),
		cty.ObjectVal(map[string]cty.Value{
			"upn":      str("b@contoso.com").Mark(valueMark("pii")),
			"password": str("hunter2").Mark(valueMark("sensitive")),
		}),
	})
	dir := t.TempDir()
	call := newCall(t, Export{}, "step.export.s", nil, map[string]cty.Value{
		"path": str(filepath.Join(dir, "s.csv")), "rows": rows,
	})
	obs, err := (Export{}).Observe(context.Background(), call)
	if err != nil {
		t.Fatal(err)
	}
	_, err = (Export{}).Diff(context.Background(), call, obs)
	if err == nil || !strings.Contains(err.Error(), `column "password" of row 1`) {
		t.Errorf("Diff: err = %v, want a refusal naming column \"password\" of row 1", err)
	}
	if _, err := (Export{}).Apply(context.Background(), call, steps.Change{}); err == nil {
		t.Error("Apply wrote a sensitive value")
	}
	if _, err := os.Stat(filepath.Join(dir, "s.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the export was written: %v", err)
	}

	// A sensitive column left out is not written, and PII is allowed:
	// exporting it is what a baseline is for.
	call = newCall(t, Export{}, "step.export.s", nil, map[string]cty.Value{
		"path": str(filepath.Join(dir, "s.csv")), "rows": rows, "columns": strs("upn"),
	})
	if _, err := (Export{}).Apply(context.Background(), call, steps.Change{}); err != nil {
		t.Fatalf("export without the sensitive column: %v", err)
	}
	if got, _ := readFile(t, filepath.Join(dir, "s.csv")); strings.Contains(got, "hunter2") || !strings.Contains(got, "b@contoso.com") {
		t.Errorf("export = %q", got)
	}

	// A mark on a whole row is refused too.
	call = newCall(t, Export{}, "step.export.s", nil, map[string]cty.Value{
		"path": str(filepath.Join(dir, "t.json")),
		"rows": cty.TupleVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"k": str("v")}).Mark(valueMark("sensitive"))}),
	})
	if _, err := (Export{}).Apply(context.Background(), call, steps.Change{}); err == nil || !strings.Contains(err.Error(), "row 0 holds a sensitive value") {
		t.Errorf("sensitive row: err = %v", err)
	}
}

func TestExportArgumentErrors(t *testing.T) {
	cases := []struct {
		name string
		args map[string]cty.Value
		want string
	}{
		{"unknown extension", map[string]cty.Value{"path": str("x.txt"), "rows": users()}, `"format"`},
		{"bad format", map[string]cty.Value{"path": str("x.csv"), "format": str("xml"), "rows": users()}, `"format"`},
		{"rows not a list", map[string]cty.Value{"path": str("x.csv"), "rows": str("no")}, `"rows"`},
		{"row not an object", map[string]cty.Value{"path": str("x.csv"), "rows": strs("no")}, "row 0"},
	}
	for _, c := range cases {
		call := newCall(t, Export{}, "step.export.x", nil, c.args)
		_, err := (Export{}).Apply(context.Background(), call, steps.Change{})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "core: export: ") {
			t.Errorf("%s: err = %v, want a core: export error naming %s", c.name, err, c.want)
		}
	}
}
