package entra_test

import (
	"context"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
	_ "github.com/rebind-dev/rebind/steps/adsync"
	_ "github.com/rebind-dev/rebind/steps/exo"
)

// metaArguments are the engine's own; a step schema must not use them.
var metaArguments = []string{"target", "for_each", "depends_on", "retry", "timeout", "on_failure", "await",
	"max_concurrency", "max_errors", "precondition", "postcondition"}

// TestInfoOfTheCloudTypes checks what every step type of steps/entra,
// steps/exo and steps/adsync tells the engine and the plan.
func TestInfoOfTheCloudTypes(t *testing.T) {
	want := []string{"adsync_cycle", "entra_dir_sync", "entra_immutable_id", "entra_tenant", "entra_user", "entra_user_purge",
		"entra_user_reprovision", "entra_user_restored", "entra_user_state", "entra_users", "exo_hold", "exo_mailbox",
		"exo_recipient", "exo_recipient_purge"}
	for _, name := range want {
		typ, ok := steps.Lookup(name)
		if !ok {
			t.Errorf("%s is not registered", name)
			continue
		}
		info := typ.Info()
		if info.Name != name || info.Doc == "" || len(info.Permissions) == 0 {
			t.Errorf("%s: name %q, doc %q, permissions %v", name, info.Name, info.Doc, info.Permissions)
		}
		if _, ok := steps.LookupTarget(info.Target); !ok {
			t.Errorf("%s: target type %q is not registered", name, info.Target)
		}
		for attr, a := range info.Schema {
			if a.Doc == "" {
				t.Errorf("%s.%s has no doc", name, attr)
			}
			for _, m := range metaArguments {
				if attr == m {
					t.Errorf("%s uses the meta-argument %s", name, attr)
				}
			}
		}
		if info.Reversibility != steps.Reversible && info.IrreversibleReason == "" {
			t.Errorf("%s is %s without a reason", name, info.Reversibility)
		}
		_, reverts := typ.(steps.Reverter)
		if info.Kind == steps.KindEnsure && info.Reversibility != steps.Irreversible && !reverts {
			t.Errorf("%s says it can be reverted but has no Revert", name)
		}
		if info.Kind == steps.KindAction && info.Reversibility != steps.Irreversible && !reverts {
			t.Errorf("%s: action without Revert must be irreversible", name)
		}
	}
	for _, name := range []string{"entra", "exo", "adsync"} {
		tt, ok := steps.LookupTarget(name)
		if !ok {
			t.Errorf("target %s is not registered", name)
			continue
		}
		for attr := range tt.Info().Schema {
			for _, secret := range []string{"secret", "password", "token", "key"} {
				if strings.Contains(attr, secret) {
					t.Errorf("target %s takes %s: credentials come from the environment", name, attr)
				}
			}
		}
	}
}

// TestTargetsRefuseBadBlocks checks the targets' errors without a lab.
func TestTargetsRefuseBadBlocks(t *testing.T) {
	for _, tc := range []struct {
		target string
		config map[string]cty.Value
		want   string
	}{
		{"entra", map[string]cty.Value{"graph_url": cty.StringVal("http://graph.example.com")}, "https"},
		{"exo", map[string]cty.Value{}, "organization is required"},
		{"exo", map[string]cty.Value{"organization": cty.StringVal("contoso.onmicrosoft.com"), "url": cty.StringVal("http://x")}, "https"},
	} {
		tt, _ := steps.LookupTarget(tc.target)
		attrs := map[string]cty.Value{}
		for n, a := range tt.Info().Schema {
			if v, ok := tc.config[n]; ok {
				attrs[n] = v
			} else {
				attrs[n] = cty.NullVal(a.Type)
			}
		}
		_, err := tt.Open(context.Background(), steps.TargetConfig{Name: "x", Config: cty.ObjectVal(attrs), Getenv: func(string) string { return "" }})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: %v, want an error with %q", tc.target, tc.config, err, tc.want)
		}
	}
}
