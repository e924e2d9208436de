package lang

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/rebind-dev/rebind/engine/runbook"
)

// MakeFileFunc returns file(path): the contents of a UTF-8 text file, a
// relative path being resolved from baseDir (the runbook's folder).
func MakeFileFunc(baseDir string) function.Function {
	return function.New(&function.Spec{
		Description: "Reads a UTF-8 text file, relative to the runbook's folder.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder {
			return b.NotNull()
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			src, err := runbook.ReadFile(resolve(baseDir, p), runbook.MaxDataFileSize)
			if err != nil {
				return cty.NilVal, function.NewArgErrorf(0, "cannot read file %q: %s", p, unwrapPathError(err))
			}
			if !utf8.Valid(src) {
				return cty.NilVal, function.NewArgErrorf(0, "file %q is not UTF-8 text", p)
			}
			return cty.StringVal(string(src)), nil
		},
	})
}

// MakeFileExistsFunc returns fileexists(path): whether a regular file exists
// at path, relative paths being resolved from baseDir. A folder at path, or
// a path that cannot be checked (no permission), is an error rather than a
// false that would hide it.
func MakeFileExistsFunc(baseDir string) function.Function {
	return function.New(&function.Spec{
		Description: "Reports whether a file exists, relative to the runbook's folder.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.Bool),
		RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder {
			return b.NotNull()
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			info, err := os.Stat(resolve(baseDir, p))
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return cty.False, nil
			case err != nil:
				return cty.NilVal, function.NewArgErrorf(0, "cannot check file %q: %s", p, unwrapPathError(err))
			case !info.Mode().IsRegular():
				return cty.NilVal, function.NewArgErrorf(0, "%q is not a regular file", p)
			}
			return cty.True, nil
		},
	})
}

func resolve(baseDir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(baseDir, filepath.FromSlash(p))
}

// unwrapPathError keeps the reason of a *fs.PathError: the path it names is
// the resolved one, and the message already names the one the runbook gave.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// CSVDecodeFunc is csvdecode(text): a list of objects, one per data row,
// whose attributes are the header row's column names and whose values are
// all strings. A leading UTF-8 byte order mark (as spreadsheet exports
// write) is ignored. A row with more or fewer fields than the header is an
// error naming its row and line.
var CSVDecodeFunc = function.New(&function.Spec{
	Description: "Decodes CSV text with a header row into a list of objects of strings.",
	Params:      []function.Parameter{{Name: "text", Type: cty.String}},
	Type: func(args []cty.Value) (cty.Type, error) {
		if !args[0].IsKnown() {
			return cty.DynamicPseudoType, nil
		}
		header, _, err := readCSV(args[0].AsString(), true)
		if err != nil {
			return cty.NilType, function.NewArgError(0, err)
		}
		return cty.List(rowType(header)), nil
	},
	RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder {
		return b.NotNull()
	},
	Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
		header, rows, err := readCSV(args[0].AsString(), false)
		if err != nil {
			return cty.NilVal, function.NewArgError(0, err)
		}
		if len(rows) == 0 {
			return cty.ListValEmpty(rowType(header)), nil
		}
		out := make([]cty.Value, len(rows))
		for i, row := range rows {
			attrs := make(map[string]cty.Value, len(header))
			for j, name := range header {
				attrs[name] = cty.StringVal(row[j])
			}
			out[i] = cty.ObjectVal(attrs)
		}
		return cty.ListVal(out), nil
	},
})

func rowType(header []string) cty.Type {
	attrs := make(map[string]cty.Type, len(header))
	for _, name := range header {
		attrs[name] = cty.String
	}
	return cty.Object(attrs)
}

// readCSV returns the header and, unless headerOnly, the data rows, all of
// the header's width.
func readCSV(text string, headerOnly bool) ([]string, [][]string, error) {
	text = strings.TrimPrefix(text, "\ufeff")
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1 // checked here, to name the row
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, errors.New("the CSV text is empty: it needs at least a header row")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("the CSV header row cannot be read: %w", err)
	}
	seen := make(map[string]int, len(header))
	for i, name := range header {
		if name == "" {
			return nil, nil, fmt.Errorf("column %d of the CSV header row has no name", i+1)
		}
		if prev, dup := seen[name]; dup {
			return nil, nil, fmt.Errorf("the CSV header row names column %q twice (columns %d and %d)", name, prev+1, i+1)
		}
		seen[name] = i
	}
	if headerOnly {
		return header, nil, nil
	}
	var rows [][]string
	for n := 1; ; n++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("CSV row %d cannot be read: %w", n, err)
		}
		if len(rec) != len(header) {
			line, _ := r.FieldPos(0)
			return nil, nil, fmt.Errorf("CSV row %d (line %d) has %d fields, but the header row has %d", n, line, len(rec), len(header))
		}
		rows = append(rows, rec)
	}
	return header, rows, nil
}
