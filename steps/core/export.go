package core

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/rebind-dev/rebind/steps"
)

// exportDefaultMode is the mode of a new export: owner-only, because a
// baseline of directory objects holds personal data.
const exportDefaultMode os.FileMode = 0o600

// Export is the `export` step type: it writes rows of data to a CSV or JSON
// file, typically a baseline of the objects a runbook is about to change, so
// that a person can compare or restore by hand what rollback cannot.
//
// The output is deterministic, so that exporting the same rows again is a
// NoOp: JSON is an indented array of objects with sorted keys; CSV follows
// RFC 4180 (CRLF line ends, quoting by encoding/csv) with a header row,
// columns in the order of `columns` or else the sorted union of the rows'
// attribute names, null as an empty cell and any value that is not a string
// as JSON. `columns` also limits the attributes of JSON rows. Values marked
// sensitive are refused, naming the row and column: a secret must never
// reach a file. A new export gets mode 0600; an existing one keeps its mode.
//
// Observe, Diff, Apply and Revert are the file step's (fileSteps), on the
// rendered content.
type Export struct{ fileSteps[Export] }

var _ steps.Reverter = Export{}

func init() { steps.Register(Export{}) }

// Info describes the export step type.
func (Export) Info() steps.Info {
	return steps.Info{
		Name: "export",
		Doc:  "Writes rows of data to a CSV or JSON file, as a baseline before a change.",
		Kind: steps.KindEnsure,
		Schema: steps.Schema{
			"path": {Type: cty.String, Required: true,
				Doc: "The file to write; a relative path is resolved against the directory the run was started in, and the plan shows it resolved."},
			"format": {Type: cty.String,
				Doc: "\"csv\" or \"json\"; by default taken from the path's extension."},
			"rows": {Type: cty.DynamicPseudoType, Required: true, Reflects: []string{"content", "sha256"},
				Doc: "A list of objects, one per row."},
			"columns": {Type: cty.List(cty.String),
				Doc: "The attributes to write, in order; by default every attribute, sorted by name."},
		},
		Reversibility: steps.Reversible,
		RepeatSafe:    true,
	}
}

// want decodes the call and renders its rows.
func (Export) want(call steps.Call) (string, fileWant, error) {
	abs, err := callPath(call)
	if err != nil {
		return "", fileWant{}, err
	}
	format, ok := steps.String(call.Config, "format")
	if !ok {
		format = strings.TrimPrefix(strings.ToLower(filepath.Ext(abs)), ".")
	}
	if format != "csv" && format != "json" {
		return abs, fileWant{}, fmt.Errorf(`"format" must be "csv" or "json" (or the path must end in .csv or .json), got %q`, format)
	}
	rows, err := exportRows(call.Config)
	if err != nil {
		return abs, fileWant{}, err
	}
	columns, hasColumns := steps.Strings(call.Config, "columns")
	if !hasColumns {
		columns = columnUnion(rows)
	}
	if err := refuseSensitive(call.Config.GetAttr("rows"), columns); err != nil {
		return abs, fileWant{}, err
	}
	var data []byte
	if format == "csv" {
		data, err = renderCSV(rows, columns)
	} else {
		data, err = renderJSON(rows, columns, hasColumns)
	}
	if err != nil {
		return abs, fileWant{}, err
	}
	return abs, fileWant{exists: true, data: data, defaultMode: exportDefaultMode}, nil
}

// exportRows checks that rows is a sequence of objects (or maps) and returns
// each row's attributes, unmarked: refuseSensitive has the marks' say.
func exportRows(cfg cty.Value) ([]map[string]cty.Value, error) {
	v := cfg.GetAttr("rows")
	if v.IsNull() {
		return nil, errors.New(`"rows" must not be null`)
	}
	v, _ = v.UnmarkDeep()
	if !v.IsWhollyKnown() {
		return nil, errors.New(`"rows" is not known yet`)
	}
	ty := v.Type()
	if !ty.IsListType() && !ty.IsTupleType() && !ty.IsSetType() {
		return nil, fmt.Errorf(`"rows" must be a list of objects, got %s`, ty.FriendlyName())
	}
	var rows []map[string]cty.Value
	for i, it := 0, v.ElementIterator(); it.Next(); i++ {
		_, row := it.Element()
		rt := row.Type()
		if !rt.IsObjectType() && !rt.IsMapType() {
			return nil, fmt.Errorf(`"rows": row %d must be an object, got %s`, i, rt.FriendlyName())
		}
		if row.IsNull() {
			return nil, fmt.Errorf(`"rows": row %d is null`, i)
		}
		rows = append(rows, row.AsValueMap())
	}
	return rows, nil
}

// refuseSensitive fails when a value that would be written carries a
// sensitive mark, naming the row and column. A sensitive attribute outside
// columns is not written, so it is allowed.
func refuseSensitive(rows cty.Value, columns []string) error {
	written := map[string]bool{}
	for _, c := range columns {
		written[c] = true
	}
	_, pvms := rows.UnmarkDeepWithPaths()
	for _, pvm := range pvms {
		if !hasSensitiveMark(pvm.Marks) {
			continue
		}
		where := `"rows"`
		if len(pvm.Path) >= 1 {
			if idx, ok := pvm.Path[0].(cty.IndexStep); ok && idx.Key.Type() == cty.Number {
				where = "row " + idx.Key.AsBigFloat().Text('f', -1)
			}
		}
		if len(pvm.Path) >= 2 {
			if col, ok := pathStepName(pvm.Path[1]); ok {
				if !written[col] {
					continue
				}
				where = fmt.Sprintf("column %q of %s", col, where)
			}
		}
		return fmt.Errorf("%s holds a sensitive value; sensitive values are never written to an export: leave the column out of \"columns\"", where)
	}
	return nil
}

func pathStepName(s cty.PathStep) (string, bool) {
	switch s := s.(type) {
	case cty.GetAttrStep:
		return s.Name, true
	case cty.IndexStep:
		if s.Key.Type() == cty.String {
			return s.Key.AsString(), true
		}
	}
	return "", false
}

// hasSensitiveMark reports whether marks include the sensitive mark. The
// contract does not export the mark value itself, so any mark that prints
// as "sensitive" counts: a string-kinded mark type, as the language uses,
// does.
func hasSensitiveMark(marks cty.ValueMarks) bool {
	for m := range marks {
		if strings.EqualFold(fmt.Sprint(m), "sensitive") {
			return true
		}
	}
	return false
}

// columnUnion is the sorted union of the rows' attribute names.
func columnUnion(rows []map[string]cty.Value) []string {
	seen := map[string]bool{}
	var cols []string
	for _, row := range rows {
		for name := range row {
			if !seen[name] {
				seen[name] = true
				cols = append(cols, name)
			}
		}
	}
	sort.Strings(cols)
	return cols
}

// renderCSV writes a header row and one record per row.
func renderCSV(rows []map[string]cty.Value, columns []string) ([]byte, error) {
	if len(columns) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	if err := w.Write(columns); err != nil {
		return nil, err
	}
	record := make([]string, len(columns))
	for i, row := range rows {
		for j, col := range columns {
			cell, err := csvCell(row[col])
			if err != nil {
				return nil, fmt.Errorf("row %d, column %q: %w", i, col, err)
			}
			record[j] = cell
		}
		if err := w.Write(record); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// csvCell is a value as a CSV cell: null or absent is empty, a string is
// itself, anything else is its JSON.
func csvCell(v cty.Value) (string, error) {
	if v == cty.NilVal || v.IsNull() {
		return "", nil
	}
	if v.Type() == cty.String {
		return v.AsString(), nil
	}
	b, err := ctyjson.Marshal(v, v.Type())
	return string(b), err
}

// renderJSON writes an indented array of objects with sorted keys. When
// columns were given, each object holds exactly those (null when a row
// lacks one).
func renderJSON(rows []map[string]cty.Value, columns []string, project bool) ([]byte, error) {
	out := make([]map[string]json.RawMessage, 0, len(rows))
	for i, row := range rows {
		obj := map[string]json.RawMessage{}
		names := columns
		if !project {
			names = make([]string, 0, len(row))
			for name := range row {
				names = append(names, name)
			}
		}
		for _, name := range names {
			v, ok := row[name]
			if !ok || v.IsNull() {
				obj[name] = json.RawMessage("null")
				continue
			}
			b, err := ctyjson.Marshal(v, v.Type())
			if err != nil {
				return nil, fmt.Errorf("row %d, column %q: %w", i, name, err)
			}
			obj[name] = b
		}
		out = append(out, obj)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
