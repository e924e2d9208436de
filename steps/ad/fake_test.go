package ad

import (
	"context"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
)

// recordingDirectory is a Directory that answers searches from a function
// and records writes, to check the exact requests a step sends (the shapes
// the lab's LDAP server must accept too).
type recordingDirectory struct {
	search   func(*ldap.SearchRequest) (*ldap.SearchResult, error)
	modifies []*ldap.ModifyRequest
	deletes  []string
}

func (f *recordingDirectory) BaseDN() string { return "DC=corp,DC=example" }
func (f *recordingDirectory) Search(r *ldap.SearchRequest) (*ldap.SearchResult, error) {
	return f.search(r)
}
func (f *recordingDirectory) SearchWithPaging(r *ldap.SearchRequest, _ uint32) (*ldap.SearchResult, error) {
	return f.search(r)
}
func (f *recordingDirectory) Modify(r *ldap.ModifyRequest) error {
	f.modifies = append(f.modifies, r)
	return nil
}
func (f *recordingDirectory) Add(*ldap.AddRequest) error { return nil }
func (f *recordingDirectory) Del(r *ldap.DelRequest) error {
	f.deletes = append(f.deletes, r.DN)
	return nil
}

func TestAmbiguousSelectorIsRefused(t *testing.T) {
	g := mustParse(t, "1effbc1e-4aa3-4f9d-a508-d4d81f1f5873")
	f := &recordingDirectory{search: func(r *ldap.SearchRequest) (*ldap.SearchResult, error) {
		e := func(dn string) *ldap.Entry {
			return &ldap.Entry{DN: dn, Attributes: []*ldap.EntryAttribute{{Name: "objectGUID", ByteValues: [][]byte{g.Bytes()}}}}
		}
		return &ldap.SearchResult{Entries: []*ldap.Entry{e("CN=A,DC=corp,DC=example"), e("CN=B,DC=corp,DC=example")}},
			ldap.NewError(ldap.LDAPResultSizeLimitExceeded, nil)
	}}
	typ, call := dataCall(t, "ad_user", f, map[string]any{"upn": "a@corp.example"})
	_, err := typ.Observe(context.Background(), call)
	if err == nil || !strings.Contains(err.Error(), "more than one") || !steps.IsPermanent(err) {
		t.Errorf("two users with one UPN: %v, want a permanent ambiguity error", err)
	}
}

func TestRestoreSendsOneModifyWithShowDeleted(t *testing.T) {
	g := mustParse(t, "1effbc1e-4aa3-4f9d-a508-d4d81f1f5873")
	deletedDN := `CN=Alice\0ADEL:1effbc1e-4aa3-4f9d-a508-d4d81f1f5873,CN=Deleted Objects,DC=corp,DC=example`
	f := &recordingDirectory{search: func(r *ldap.SearchRequest) (*ldap.SearchResult, error) {
		if ldap.FindControl(r.Controls, ldap.ControlTypeMicrosoftShowDeleted) == nil {
			return &ldap.SearchResult{}, nil // no live object
		}
		if !strings.HasPrefix(r.BaseDN, "CN=Deleted Objects,") {
			t.Errorf("deleted objects searched under %s", r.BaseDN)
		}
		return &ldap.SearchResult{Entries: []*ldap.Entry{{DN: deletedDN, Attributes: []*ldap.EntryAttribute{
			{Name: "objectGUID", ByteValues: [][]byte{g.Bytes()}},
			{Name: "name", Values: []string{"Alice\nDEL:1effbc1e-4aa3-4f9d-a508-d4d81f1f5873"}, ByteValues: [][]byte{[]byte("Alice\nDEL:1effbc1e-4aa3-4f9d-a508-d4d81f1f5873")}},
			{Name: "lastKnownParent", Values: []string{"OU=Staff,DC=corp,DC=example"}, ByteValues: [][]byte{[]byte("OU=Staff,DC=corp,DC=example")}},
		}}}}, nil
	}}
	typ, call := newCall(t, "ad_user_restored", f, map[string]any{"object_guid": g.String()})
	_, ch := plan(t, typ, call)
	if _, err := typ.Apply(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	if len(f.modifies) != 1 {
		t.Fatalf("%d modify requests, want 1", len(f.modifies))
	}
	m := f.modifies[0]
	if m.DN != deletedDN || ldap.FindControl(m.Controls, ldap.ControlTypeMicrosoftShowDeleted) == nil {
		t.Errorf("modify %s with controls %v", m.DN, m.Controls)
	}
	if len(m.Changes) != 2 ||
		m.Changes[0].Operation != ldap.DeleteAttribute || m.Changes[0].Modification.Type != "isDeleted" || len(m.Changes[0].Modification.Vals) != 0 ||
		m.Changes[1].Operation != ldap.ReplaceAttribute || m.Changes[1].Modification.Type != "distinguishedName" ||
		len(m.Changes[1].Modification.Vals) != 1 || m.Changes[1].Modification.Vals[0] != "CN=Alice,OU=Staff,DC=corp,DC=example" {
		t.Errorf("changes = %+v", m.Changes)
	}
}

func TestAttributeValueForms(t *testing.T) {
	cases := []struct {
		value cty.Value
		want  []string
	}{
		{cty.StringVal("a"), []string{"a"}},
		{cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")}), []string{"a", "b"}}, // an HCL ["a", "b"]
		{cty.NumberIntVal(-2147483642), []string{"-2147483642"}},
		{cty.True, []string{"TRUE"}},
		{cty.NullVal(cty.DynamicPseudoType), nil},
	}
	for _, c := range cases {
		_, call := newCall(t, "ad_attribute", nil, map[string]any{"upn": "a@corp.example", "attribute": "x", "value": c.value})
		got, err := desiredValues(call)
		if err != nil {
			t.Errorf("%#v: %v", c.value, err)
			continue
		}
		if !sameValues(got, toBytes(c.want)) || (c.want == nil) != (got == nil) {
			t.Errorf("%#v: values %q, want %q", c.value, got, c.want)
		}
	}
}
