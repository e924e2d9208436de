package runbook

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

const modRoot = `runbook "r" {}
target "entra" "tenant" {}
`

const modChild = `
variable "upn" { type = string }
variable "note" {
  type    = string
  default = "n"
}
target "entra" "tenant" {}
step "assert" "a" {
  condition     = var.upn != ""
  error_message = "no upn"
}
output "upn" { value = var.upn }
`

// Modules load from the runbook's folder and their files join Sources,
// so a saved plan carries them.
func TestLoadModule(t *testing.T) {
	fsys := fstest.MapFS{
		"r/main.hcl":            {Data: []byte(modRoot + "module \"m\" {\n  source = \"./mods/m\"\n  upn = \"a@b\"\n}\nstep \"assert\" \"b\" {\n  condition = module.m.upn != \"\"\n  error_message = \"x\"\n}\n")},
		"r/mods/m/main.hcl":     {Data: []byte(modChild)},
		"r/mods/m/README.md":    {Data: []byte("not read")},
		"r/mods/m/sub/more.hcl": {Data: []byte("not read either")},
	}
	rb, diags := LoadFS(fsys, "r")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(rb.Modules) != 1 || rb.Modules[0].Key != "mods/m" || rb.Modules[0].Child == nil || rb.Modules[0].Pos != 0 {
		t.Fatalf("modules = %+v", rb.Modules)
	}
	if got := strings.Join(slices.Sorted(maps.Keys(rb.Sources)), " "); got != "main.hcl mods/m/main.hcl" {
		t.Errorf("Sources = %s", got)
	}
	// From its sources alone, as from a plan, with nothing on disk.
	again, diags := LoadSources("elsewhere", rb.Sources)
	if diags.HasErrors() || again.Modules[0].Child == nil {
		t.Fatalf("LoadSources: %v", diags)
	}
}

// What a module call can get wrong is reported at its file and line.
func TestModuleErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"unknown input", map[string]string{
			"main.hcl":   modRoot + "module \"m\" {\n  source = \"./m\"\n  upn = \"x\"\n  nope = 1\n}\n",
			"m/main.hcl": modChild,
		}, []string{"main.hcl:6,3-7: Unknown module input", `has no variable "nope"`, "Its inputs are: upn, note"}},
		{"missing input", map[string]string{
			"main.hcl":   modRoot + "module \"m\" {\n  source = \"./m\"\n}\n",
			"m/main.hcl": modChild,
		}, []string{"main.hcl:3,1-11: Missing module input", "needs upn = ...", "m/main.hcl:2,1-15"}},
		{"unknown output", map[string]string{
			"main.hcl":   modRoot + "module \"m\" {\n  source = \"./m\"\n  upn = \"x\"\n}\nlocals {\n  y = module.m.nothing\n}\n",
			"m/main.hcl": modChild,
		}, []string{"main.hcl:8,7-23: Reference to undeclared module output", `no output "nothing"`, "Its outputs are: upn"}},
		{"output reference", map[string]string{
			"main.hcl":   modRoot + "module \"m\" {\n  source = \"./m\"\n  upn = \"x\"\n}\n",
			"m/main.hcl": modChild + "output \"bad\" { value = local.missing }\n",
		}, []string{"m/main.hcl:13,24-37: Reference to undeclared local"}},
		{"escape", map[string]string{
			"main.hcl": modRoot + "module \"m\" {\n  source = \"../other\"\n}\n",
		}, []string{"main.hcl:4,12-22: Invalid module source", "leads out of the runbook's folder"}},
		{"cycle", map[string]string{
			"main.hcl":   modRoot + "module \"a\" {\n  source = \"./a\"\n}\n",
			"a/main.hcl": "module \"b\" {\n  source = \"../b\"\n}\n",
			"b/main.hcl": "module \"a\" {\n  source = \"../a\"\n}\n",
		}, []string{"b/main.hcl:2,12-18: Module cycle", "a -> b -> a"}},
		{"target with settings", map[string]string{
			"main.hcl":   modRoot + "module \"m\" {\n  source = \"./m\"\n}\n",
			"m/main.hcl": "target \"ad\" \"corp\" {\n  host = \"x\"\n}\n",
		}, []string{"m/main.hcl:1,1-19: Module target with settings"}},
		{"missing source", map[string]string{
			"main.hcl": modRoot + "module \"m\" {\n  x = 1\n}\n",
		}, []string{"main.hcl:3,1-11: Missing module source"}},
		{"missing folder", map[string]string{
			"main.hcl": modRoot + "module \"m\" {\n  source = \"./none\"\n}\n",
		}, []string{"main.hcl:4,12-20: Cannot read module"}},
		{"later module", map[string]string{
			"main.hcl":   modRoot + "step \"assert\" \"b\" {\n  condition = module.m.upn != \"\"\n  error_message = \"x\"\n}\nmodule \"m\" {\n  source = \"./m\"\n  upn = \"x\"\n}\n",
			"m/main.hcl": modChild,
		}, []string{"main.hcl:4,15-27: Reference to a later module"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for k, v := range c.files {
				fsys["r/"+k] = &fstest.MapFile{Data: []byte(v)}
			}
			_, diags := LoadFS(fsys, "r")
			if !diags.HasErrors() {
				t.Fatal("loaded without error")
			}
			var text []string
			for _, d := range diags {
				text = append(text, d.Subject.String()+": "+d.Summary+": "+d.Detail)
			}
			all := strings.Join(text, "\n")
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("want %q in:\n%s", w, all)
				}
			}
		})
	}
}
