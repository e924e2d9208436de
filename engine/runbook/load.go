package runbook

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Extension is the file name suffix of runbook files. In a folder, only
// files with this suffix are read; sub-folders are not.
const Extension = ".hcl"

// Load reads the runbook at path: one .hcl file, or a folder whose .hcl files
// are read in name order. Ranges in the result and its diagnostics name files
// relative to the runbook folder (for a single file, its base name), the keys
// of Sources and Files, so that a runbook loaded from disk and the same
// runbook loaded from a saved plan with LoadSources report the same
// positions.
//
// The result is never nil; it may be incomplete when the diagnostics have
// errors.
func Load(p string) (*Runbook, hcl.Diagnostics) {
	info, err := os.Stat(p)
	if err != nil {
		return &Runbook{Dir: p}, fileError(p, "Cannot read runbook", fmt.Sprintf("The runbook %s cannot be read: %s.", p, err))
	}
	if !info.IsDir() {
		src, err := ReadFile(p, MaxRunbookSize)
		if errors.Is(err, ErrTooLarge) {
			return &Runbook{Dir: filepath.Dir(p)}, fileError(p, "Runbook too large", fmt.Sprintf("The runbook file %s holds more than %s, the most rebind reads. A runbook is code: data belongs in a variable file or a file() it reads.", p, sizeText(MaxRunbookSize)))
		}
		if err != nil {
			return &Runbook{Dir: filepath.Dir(p)}, fileError(p, "Cannot read runbook", fmt.Sprintf("The runbook file %s cannot be read: %s.", p, err))
		}
		return loadSources(filepath.Dir(p), map[string][]byte{filepath.Base(p): src}, os.DirFS(filepath.Dir(p)))
	}
	rb, diags := loadFS(os.DirFS(p), ".")
	rb.Dir = p
	return rb, diags
}

// LoadFS reads the runbook in folder dir of fsys (for runbooks embedded in
// the binary). Dir in the result is dir. dir may also name a single .hcl
// file, as with Load.
func LoadFS(fsys fs.FS, dir string) (*Runbook, hcl.Diagnostics) {
	rb, diags := loadFS(fsys, dir)
	rb.Dir = dir
	return rb, diags
}

func loadFS(fsys fs.FS, dir string) (*Runbook, hcl.Diagnostics) {
	info, err := fs.Stat(fsys, dir)
	if err != nil {
		return &Runbook{}, fileError(dir, "Cannot read runbook", fmt.Sprintf("The runbook %s cannot be read: %s.", dir, err))
	}
	if !info.IsDir() {
		src, err := readFS(fsys, dir, MaxRunbookSize)
		if err != nil {
			return &Runbook{}, fileError(dir, "Cannot read runbook", fmt.Sprintf("The runbook file %s cannot be read: %s.", dir, err))
		}
		sub, _ := fs.Sub(fsys, path.Dir(dir))
		return loadSources(path.Dir(dir), map[string][]byte{path.Base(dir): src}, sub)
	}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return &Runbook{}, fileError(dir, "Cannot read runbook", fmt.Sprintf("The runbook folder %s cannot be read: %s.", dir, err))
	}
	sources := map[string][]byte{}
	total := 0
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), Extension) {
			continue
		}
		src, err := readFS(fsys, path.Join(dir, e.Name()), int64(MaxRunbookSize-total))
		if errors.Is(err, ErrTooLarge) {
			return &Runbook{}, fileError(e.Name(), "Runbook too large", fmt.Sprintf("The runbook's files hold more than %s, the most rebind reads. A runbook is code: data belongs in a variable file or a file() it reads.", sizeText(MaxRunbookSize)))
		}
		if err != nil {
			return &Runbook{}, fileError(e.Name(), "Cannot read runbook", fmt.Sprintf("The runbook file %s cannot be read: %s.", path.Join(dir, e.Name()), err))
		}
		sources[e.Name()] = src
		total += len(src)
	}
	if len(sources) == 0 {
		return &Runbook{}, fileError(dir, "No runbook files", fmt.Sprintf("The folder %s holds no %s files.", dir, Extension))
	}
	sub, _ := fs.Sub(fsys, dir)
	return loadSources(dir, sources, sub)
}

// LoadSources parses a runbook from its files' contents, keyed by file name
// relative to the runbook folder (as in Runbook.Sources); files are read in
// name order. dir is only recorded as the result's Dir. A saved plan, which
// carries the sources it was made from, is loaded this way.
//
// The result is never nil; it may be incomplete when the diagnostics have
// errors.
//
// Sources also holds the files of the modules the runbook calls, keyed by
// their folder (see Module.Key): a runbook carried by a saved plan calls
// the modules reviewed with it, never what is on disk now.
func LoadSources(dir string, sources map[string][]byte) (*Runbook, hcl.Diagnostics) {
	return loadSources(dir, sources, nil)
}

// loadSources is LoadSources reading the modules it calls that sources
// lacks from local, the runbook's folder (nil: from sources alone).
func loadSources(dir string, sources map[string][]byte, local fs.FS) (*Runbook, hcl.Diagnostics) {
	rb := &Runbook{
		Dir:     dir,
		Sources: make(map[string][]byte, len(sources)),
		Files:   make(map[string]*hcl.File, len(sources)),
	}
	names := make([]string, 0, len(sources))
	for name, src := range sources {
		rb.Sources[name] = src
		if strings.Contains(name, "/") {
			continue // a module's file
		}
		names = append(names, name)
	}
	sort.Strings(names)

	var diags hcl.Diagnostics
	if len(names) == 0 {
		return rb, fileError(dir, "No runbook files", "The runbook has no files.")
	}
	if d := checkSize(sources, names); d.HasErrors() {
		return rb, d
	}
	d := newDecoder(rb)
	for _, name := range names {
		f, fDiags := parseNative(sources[name], name)
		diags = append(diags, fDiags...)
		if f == nil {
			// Refused before parsing (nested too deeply): kept for the
			// diagnostics' source snippets.
			rb.Files[name] = &hcl.File{Body: hcl.EmptyBody(), Bytes: sources[name]}
			d.parseFailed = true
			continue
		}
		rb.Files[name] = f
		if fDiags.HasErrors() {
			// A file that does not parse is decoded no further: its body
			// is partial and would only add misleading errors.
			d.parseFailed = true
			continue
		}
		diags = append(diags, d.decodeFile(f)...)
	}
	diags = append(diags, d.finish()...)
	if len(rb.Modules) > 0 && !diags.HasErrors() {
		total := 0
		for _, src := range sources {
			total += len(src)
		}
		r := &resolver{sources: rb.Sources, local: local, total: total, parsed: rb.Files}
		diags = append(diags, r.resolveModules(rb, "", nil)...)
		diags = append(diags, checkModuleRefs(rb)...)
	}
	return rb, diags
}

// fileError is a diagnostic about a file as a whole, before any of it could
// be parsed.
func fileError(name, summary, detail string) hcl.Diagnostics {
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  &hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos},
	}}
}
