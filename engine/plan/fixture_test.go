package plan

import (
	"time"
)

// samplePlan builds a plan by hand with one of each kind of change: a
// data read, an update, a create, an irreversible restore, a fan-out with
// a no-op and a deferred instance, an action, and a delete. Values hold
// UPNs, addresses and GUIDs so that redaction has something to do.
func samplePlan() *Plan {
	created := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	v := func(s string) Value {
		var out Value
		if err := out.UnmarshalJSON([]byte(s)); err != nil {
			panic(err)
		}
		return out
	}
	return &Plan{
		FormatVersion: FormatVersion,
		Runbook: Runbook{
			Name:        "restore-mistake",
			Title:       "Re-bind a cloud user restored by mistake to its new AD account",
			Description: "Clears the immutable ID of the restored cloud user and lets sync bind it.",
			Digest:      "0f3c1bd8a5f9e0d5a4a1d2c3b4e5f60718293a4b5c6d7e8f9012345678901234",
			Sources:     map[string]string{"main.hcl": "runbook \"restore-mistake\" {\n  approvals = 2\n}\n"},
		},
		Inputs: map[string]Value{"upn": v(`"alice.smith@contoso.com"`)},
		SecretInputs: []string{"ad_password"},
		Lab:          "http://127.0.0.1:8443",
		Targets: []Target{
			{Type: "entra", Name: "tenant", Config: v(`{}`)},
			{Type: "ad", Name: "corp", Config: v(`{"base_dn":"DC=corp,DC=example,DC=com","url":"ldaps://dc01.corp.example.com"}`)},
		},
		Steps: []Step{
			{
				Address: "data.ad_user.new", Mode: "data", Type: "ad_user", Kind: "data", Reversibility: "reversible",
				Instances: []Instance{{
					Address: "data.ad_user.new", Object: "ad:user:alice.smith@contoso.com", Action: "read",
					Fingerprint: "6b1f0e0c2f7f4c1e9d3a5b7c9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f",
					Observed:    v(`{"object_guid":"3f2504e0-4f89-11d3-9a0c-0305e82c3301","upn":"alice.smith@contoso.com"}`),
				}},
			},
			{
				Address: "step.ad_user_restored.old", Mode: "step", Type: "ad_user_restored", Kind: "ensure",
				Reversibility: "irreversible", IrreversibleReason: "Rollback deletes the restored user again; it becomes a new tombstone, not the original one.",
				Permissions: []string{"AD: reanimate tombstones"},
				Instances: []Instance{{
					Address: "step.ad_user_restored.old", Object: "ad:user:CN=Alice Smith,OU=Staff,DC=corp,DC=example,DC=com", Action: "create",
					After: v(`{"deleted":false,"dn":"CN=Alice Smith,OU=Staff,DC=corp,DC=example,DC=com"}`), Irreversible: true,
				}},
			},
			{
				Address: "step.entra_immutable_id.clear", Mode: "step", Type: "entra_immutable_id", Kind: "ensure", Reversibility: "reversible",
				Permissions: []string{"Graph: User.ReadWrite.All"},
				Instances: []Instance{{
					Address: "step.entra_immutable_id.clear", Object: "entra:user:alice.smith@contoso.com", Action: "update",
					Fingerprint: "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
					Before:      v(`{"immutable_id":"4AUlP4lP0xGaDAMF6CwzAQ==","upn":"alice.smith@contoso.com"}`),
					After:       v(`{"immutable_id":null,"upn":"alice.smith@contoso.com"}`),
				}},
			},
			{
				Address: "step.exo_mail_user.archive", Mode: "step", Type: "exo_mail_user", Kind: "ensure", Reversibility: "reversible",
				Instances: []Instance{
					{Address: `step.exo_mail_user.archive["bob@contoso.com"]`, Key: "bob@contoso.com", Object: "exo:user:bob@contoso.com", Action: "no-op"},
					{Address: `step.exo_mail_user.archive["carol@contoso.com"]`, Key: "carol@contoso.com", Object: "exo:user:carol@contoso.com", Action: ActionDeferred,
						After: v(`{"archive_guid":"(known after apply)","proxy_addresses":["SMTP:carol@contoso.com","smtp:c.jones@contoso.mail.onmicrosoft.com"]}`),
						Notes: []string{"The precondition on archive_guid is checked at apply."}},
				},
			},
			{
				Address: "step.adsync_cycle.initial", Mode: "step", Type: "adsync_cycle", Kind: "action", Reversibility: "irreversible",
				IrreversibleReason: "A sync cycle cannot be taken back; what it exported stays exported.",
				Await:              "3h",
				Instances: []Instance{{
					Address: "step.adsync_cycle.initial", Object: "adsync:connector:corp.example.com", Action: "run",
					After: v(`{"policy":"Initial"}`), Irreversible: true,
				}},
			},
			{
				Address: "step.ad_attribute.stale", Mode: "step", Type: "ad_attribute", Kind: "ensure", Reversibility: "reversible",
				Instances: []Instance{{
					Address: "step.ad_attribute.stale", Object: "ad:user:alice.smith@contoso.com", Action: "delete",
					Before: v(`{"attribute":"msExchArchiveGUID","value":"<script>alert(1)</script> | *not bold*"}`),
				}},
			},
		},
		Permissions: []string{"AD: reanimate tombstones", "Graph: User.ReadWrite.All"},
		Approvals:   Policy{Required: 1, IrreversibleRequired: 2},
		Author:      "dave",
		Created:     created,
		Expires:     created.Add(24 * time.Hour),
	}
}
