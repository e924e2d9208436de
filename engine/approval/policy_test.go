package approval

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParsePolicy(t *testing.T) {
	dir := t.TempDir()
	signers := "alice ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
	if err := os.WriteFile(filepath.Join(dir, "allowed_signers"), []byte(signers), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "policy.hcl")
	pol, diags := Parse([]byte("approvals = 1\nirreversible_approvals = 2\nallowed_signers = \"allowed_signers\"\n"), path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if pol.Approvals != 1 || pol.IrreversibleApprovals != 2 || pol.AllowedSigners == nil || len(pol.AllowedSigners.Entries) != 1 {
		t.Fatalf("policy = %+v", pol)
	}
	if pol.AllowedSignersPath != filepath.Join(dir, "allowed_signers") {
		t.Errorf("allowed_signers resolved to %s, want it beside the policy file", pol.AllowedSignersPath)
	}

	for _, c := range []struct{ src, want string }{
		{"aprovals = 1\n", `policy.hcl:1,1-9: Unsupported argument; An argument named "aprovals" is not expected here.`},
		{"approvals = -1\n", "approvals must be a whole number from 0 to 100"},
		{"approvals = 1.5\n", "approvals must be a whole number from 0 to 100"},
		{"irreversible_approvals = 101\n", "irreversible_approvals must be a whole number"},
		{"approvals = \"2\"\n", "approvals must be a whole number"},
		{"approvals = var.x\n", "Variables not allowed"},
		{"allowed_signers = \"missing\"\n", "Cannot read allowed_signers"},
		{"allowed_signers = 3\n", "allowed_signers must be the path of an allowed-signers file"},
	} {
		_, diags := Parse([]byte(c.src), "policy.hcl")
		if !diags.HasErrors() || !strings.Contains(diags.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", c.src, diags, c.want)
		}
	}
}

func TestRequired(t *testing.T) {
	pol := &Policy{Approvals: 1, IrreversibleApprovals: 2}
	for _, c := range []struct {
		rb, rbIrr    int
		irreversible bool
		want         int
	}{
		{0, 0, false, 1},
		{0, 0, true, 2},
		{3, 0, false, 3},
		{3, 0, true, 3},
		{1, 4, true, 4},
		{1, 4, false, 1},
	} {
		if got := pol.Required(c.rb, c.rbIrr, c.irreversible); got != c.want {
			t.Errorf("Required(%d, %d, %v) = %d, want %d", c.rb, c.rbIrr, c.irreversible, got, c.want)
		}
	}
	if got := Default().Required(2, 3, true); got != 3 {
		t.Errorf("the default policy changes the runbook's count: %d", got)
	}
}
