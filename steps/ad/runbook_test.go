package ad_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/engine"
	"github.com/rebind-dev/rebind/engine/journal"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/lab/ldapserver"
)

// relinkRunbook writes the cloud mailbox's GUIDs into the on-premises user
// and makes it a remote mailbox (seed 003), then renames a second user onto
// the first one's UPN, which AD refuses at apply: the engine must then roll
// the first two steps back through the AD steps' Revert.
const relinkRunbook = `
runbook "relink" { title = "Re-link a remote mailbox" }

variable "upn" { type = string }
variable "other" { type = string }

target "ad" "corp" {
  url     = "ldaps://%s"
  base_dn = "%s"
}

data "ad_user" "user" {
  target = target.ad.corp
  upn    = var.upn
}

step "ad_attribute" "archive" {
  target    = target.ad.corp
  upn       = var.upn
  attribute = "msExchArchiveGUID"
  guid      = "35918bc9-196d-40ea-9779-889d79b753f0"
}

step "ad_remote_mailbox" "mailbox" {
  target         = target.ad.corp
  object_guid    = data.ad_user.user.object_guid
  alias          = "ivan"
  routing_domain = "contoso.mail.onmicrosoft.com"
  exchange_guid  = "1effbc1e-4aa3-4f9d-a508-d4d81f1f5873"
}

step "ad_attribute" "clash" {
  target    = target.ad.corp
  upn       = var.other
  attribute = "userPrincipalName"
  value     = var.upn
}
`

func TestRunbookRollsBackADStepsThroughTheEngine(t *testing.T) {
	d := startLab(t, ldapserver.Options{})
	dir := d.open(t)
	dn, upn := addUser(t, dir, "Ivan", map[string][]string{"proxyAddresses": {"SMTP:ivan@corp.example.com"}})
	_, other := addUser(t, dir, "Judy", nil)

	work := t.TempDir()
	store, err := journal.Open(filepath.Join(work, ".rebind"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var log bytes.Buffer
	// The runbook names the lab's DC itself, as it would name a domain
	// controller; the CA comes from REBIND_AD_CA_FILE.
	e := &engine.Engine{Store: store, WorkDir: work, Log: &log, Getenv: d.env()}
	src := fmt.Sprintf(relinkRunbook, d.secure, d.srv.BaseDN())
	rb, diags := runbook.LoadSources(work, map[string][]byte{"main.hcl": []byte(src)})
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	in := engine.Inputs{Vars: map[string]string{"upn": upn, "other": other}}
	p, diags := e.Plan(context.Background(), rb, in, engine.PlanOptions{Author: "tester"})
	if diags.HasErrors() {
		t.Fatalf("plan: %s", diags.Error())
	}
	rep, diags := e.Apply(context.Background(), p, in, engine.ApplyOptions{})
	if diags.HasErrors() {
		t.Fatalf("apply: %s\n%s", diags.Error(), log.String())
	}
	if rep.Status != journal.StatusRolledBack {
		t.Fatalf("status %s, want rolled-back\n%s", rep.Status, log.String())
	}
	if got := strings.Join(rep.Reverted, " "); got != "step.ad_remote_mailbox.mailbox step.ad_attribute.archive" {
		t.Errorf("reverted %q, want the mailbox then the archive GUID (newest first)", got)
	}
	if len(rep.Failures) != 1 || !strings.Contains(rep.Failures[0].Err, "LDAP 19") {
		t.Errorf("failures %+v, want the duplicate UPN with its LDAP code", rep.Failures)
	}
	res, err := dir.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)",
		[]string{"msExchArchiveGUID", "msExchMailboxGuid", "targetAddress", "mailNickname", "proxyAddresses"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	u := res.Entries[0]
	for _, a := range []string{"msExchArchiveGUID", "msExchMailboxGuid", "targetAddress", "mailNickname"} {
		if v := u.GetRawAttributeValues(a); len(v) != 0 {
			t.Errorf("after rollback %s = % x, want none", a, v)
		}
	}
	if p := u.GetAttributeValues("proxyAddresses"); len(p) != 1 || p[0] != "SMTP:ivan@corp.example.com" {
		t.Errorf("after rollback proxyAddresses = %q", p)
	}
}
