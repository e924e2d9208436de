package credential

import (
	"os"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

func config(set map[string]cty.Value) cty.Value {
	attrs := map[string]cty.Value{}
	for k, a := range Schema {
		attrs[k] = cty.NullVal(a.Type)
		if v, ok := set[k]; ok {
			attrs[k] = v
		}
	}
	return cty.ObjectVal(attrs)
}

// TestForTarget: the sign-in settings come from the target's block, the
// tenant from AZURE_TENANT_ID (through the target's Getenv) when the block
// names none, and a ca_file that holds no certificate is an error naming it.
func TestForTarget(t *testing.T) {
	env := map[string]string{"AZURE_TENANT_ID": "from-env"}
	getenv := func(k string) string { return env[k] }
	got, err := ForTarget(steps.TargetConfig{Name: "t", Config: config(map[string]cty.Value{
		"authority_host": cty.StringVal("https://login.microsoftonline.us/"), "device_code": cty.True}), Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	o := got.Options
	if o.TenantID != "from-env" || !o.DeviceCode || o.AuthorityHost != "https://login.microsoftonline.us/" || o.Getenv == nil || o.HTTP == nil {
		t.Errorf("options %+v", o)
	}
	if got.Roots != nil {
		t.Error("roots without a ca_file; want the system's (nil)")
	}
	got, err = ForTarget(steps.TargetConfig{Name: "t", Config: config(map[string]cty.Value{"tenant_id": cty.StringVal("from-block")}), Getenv: getenv})
	if err != nil || got.Options.TenantID != "from-block" {
		t.Errorf("tenant_id in the block: %+v, %v", got.Options, err)
	}
	empty := t.TempDir() + "/empty.pem"
	writeFile(t, empty, "")
	if _, err := ForTarget(steps.TargetConfig{Name: "t", Config: config(map[string]cty.Value{"ca_file": cty.StringVal(empty)}), Getenv: getenv}); err == nil ||
		!strings.Contains(err.Error(), "ca_file "+empty) {
		t.Errorf("an empty ca_file: %v, want an error naming it", err)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
