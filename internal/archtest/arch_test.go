package archtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

const module = "github.com/rebind-dev/rebind"

// pkg is the part of `go list -json` the rules read
// (https://pkg.go.dev/cmd/go#hdr-List_packages_or_modules).
type pkg struct {
	ImportPath   string
	Imports      []string // direct imports of the non-test files
	TestImports  []string // direct imports of the package's _test.go files
	XTestImports []string // direct imports of the external (pkg_test) test files
	Deps         []string // every package the non-test files depend on, transitively
}

// listModule runs `go list -json ./...` at the module root: the module's own
// packages with their imports and dependencies.
func listModule(t *testing.T) []pkg {
	t.Helper()
	listOnce.Do(func() { listed, listErr = goList() })
	if listErr != nil {
		t.Fatal(listErr)
	}
	return listed
}

var (
	listOnce sync.Once
	listed   []pkg
	listErr  error
)

func goList() ([]pkg, error) {
	if err := touchSources(); err != nil {
		return nil, err
	}
	cmd := exec.Command("go", "list", "-json", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		return nil, fmt.Errorf("go list found %d packages in %s; expected the whole module", len(pkgs), module)
	}
	return pkgs, nil
}

// touchSources stats every Go file and directory of the module. go test
// caches a passing result, and "tests that open files within the package's
// module ... only match future runs in which the files ... are unchanged"
// (https://pkg.go.dev/cmd/go#hdr-Testing_flags, `go help testflag`); only
// files the test process itself opens count, and `go list` runs in a child
// process, so without this an added import would not invalidate a cached
// pass.
func touchSources() error {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return fmt.Errorf("module root: %v", err)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") {
			_, err = os.Stat(path)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("walking the module: %v", err)
	}
	return nil
}

// under reports whether path is dir or one of its subpackages (dir relative
// to the module).
func under(path, dir string) bool {
	full := module + "/" + dir
	return path == full || strings.HasPrefix(path, full+"/")
}

func rel(path string) string { return strings.TrimPrefix(path, module+"/") }

// allImports is every direct import of a package, its tests included.
func allImports(p pkg) []string {
	var all []string
	all = append(all, p.Imports...)
	all = append(all, p.TestImports...)
	all = append(all, p.XTestImports...)
	return all
}

// TestGraphSDKOnlyInEntra: msgraph-sdk-go (and its core, and anything else
// under github.com/microsoftgraph/) is imported only by steps/entra and its
// subpackages, so the rest of rebind never depends on the SDK's types.
// Packages that import steps/entra reach the SDK transitively; that is the
// point of the boundary, so only direct imports are checked.
func TestGraphSDKOnlyInEntra(t *testing.T) {
	for _, p := range listModule(t) {
		if under(p.ImportPath, "steps/entra") {
			continue
		}
		for _, imp := range allImports(p) {
			if strings.HasPrefix(imp, "github.com/microsoftgraph/") {
				t.Errorf("%s imports %s: the Graph SDK may only be imported under steps/entra", rel(p.ImportPath), imp)
			}
		}
	}
}

// TestProductDoesNotDependOnLab: nothing under engine/ or steps/ depends on
// lab/ or any package under it (the model, lab/labhttp, lab/ldapserver,
// lab/instance, ...): the product does not know a lab exists (`--lab` binds targets to a
// lab as an environment, in cli/ and lab/control). Test files may use the
// lab as their fixture, so only the non-test dependency graph (transitive)
// is checked.
func TestProductDoesNotDependOnLab(t *testing.T) {
	found := map[string][]string{}
	for _, p := range listModule(t) {
		if !under(p.ImportPath, "engine") && !under(p.ImportPath, "steps") {
			continue
		}
		for _, d := range p.Deps {
			if under(d, "lab") {
				found[rel(p.ImportPath)] = append(found[rel(p.ImportPath)], rel(d))
			}
		}
	}
	for p, labs := range found {
		for _, l := range labs {
			t.Errorf("%s depends on %s: engine/ and steps/ must not depend on lab/ (see ARCHITECTURE.md)", p, l)
		}
	}
}

// TestLabModelHasNoProtocolCode: package lab is the lab tenant's model; its
// protocol surfaces (lab/labhttp for HTTP, lab/ldapserver for LDAP) are
// packages of their own over its exported API, so the model's non-test
// files import neither net/http nor any package under lab/.
func TestLabModelHasNoProtocolCode(t *testing.T) {
	for _, p := range listModule(t) {
		if p.ImportPath != module+"/lab" {
			continue
		}
		for _, imp := range p.Imports {
			if imp == "net/http" || strings.HasPrefix(imp, "net/http/") || under(imp, "lab") {
				t.Errorf("lab imports %s: HTTP and the other protocol surfaces belong in lab/labhttp and lab/ldapserver (see ARCHITECTURE.md)", rel(imp))
			}
		}
		return
	}
	t.Fatal("go list did not list package lab")
}

// cliTestImporters may import cli/ from their test files only.
var cliTestImporters = map[string]bool{
	// The attack suite's test binary re-executes itself as the rebind
	// command (TestMain calls cli.Main), standing in for cmd/rebind so
	// signals, exit codes and output are a real process's. Not a layering
	// leak: no non-test code of the package may import cli.
	"adversarial": true,
	// The end-to-end suites re-execute their test binary as the rebind
	// command too, to kill it mid-run (TestKillAndResumeCLI).
	"runbooks": true,
}

// TestCLIOnlyFromCmd: cli/ is the command line; only cmd/ builds on it
// (cli's own external tests, and the test-only importers above, aside).
func TestCLIOnlyFromCmd(t *testing.T) {
	var bad []string
	for _, p := range listModule(t) {
		if under(p.ImportPath, "cmd") || under(p.ImportPath, "cli") {
			continue
		}
		imports := allImports(p)
		if cliTestImporters[rel(p.ImportPath)] {
			imports = p.Imports
		}
		for _, imp := range imports {
			if under(imp, "cli") {
				bad = append(bad, rel(p.ImportPath)+" imports "+rel(imp))
			}
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Errorf("%s: only cmd/ may import cli/", b)
	}
}
