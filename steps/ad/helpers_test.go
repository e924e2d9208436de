package ad

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/steptest"
)

// newCall is a call of the step type name with the given arguments.
func newCall(t testing.TB, name string, target Directory, given map[string]any) (steps.Type, steps.Call) {
	t.Helper()
	typ := steptest.Step(t, name)
	return typ, steptest.Call(typ, target, given)
}

// dataCall is a call of the data source name with the given arguments.
func dataCall(t testing.TB, name string, target Directory, given map[string]any) (steps.DataSource, steps.Call) {
	t.Helper()
	d := steptest.Lookup(t, name)
	return d, steptest.Call(d, target, given)
}

// plan runs Observe and Diff.
func plan(t testing.TB, typ steps.Type, call steps.Call) (steps.Observation, steps.Change) {
	t.Helper()
	ctx := context.Background()
	obs, err := typ.Observe(ctx, call)
	if err != nil {
		t.Fatalf("%s Observe: %v", typ.Info().Name, err)
	}
	ch, err := typ.Diff(ctx, call, obs)
	if err != nil {
		t.Fatalf("%s Diff: %v", typ.Info().Name, err)
	}
	return obs, ch
}

// observe runs Observe of a data type and returns its value.
func observe(t testing.TB, name string, target Directory, given map[string]any) cty.Value {
	t.Helper()
	d, call := dataCall(t, name, target, given)
	obs, err := d.Observe(context.Background(), call)
	if err != nil {
		t.Fatalf("%s Observe: %v", name, err)
	}
	return obs.Value
}

func str(v cty.Value, attr string) string {
	a := v.GetAttr(attr)
	if a.IsNull() {
		return "<null>"
	}
	return a.AsString()
}

var userSeq atomic.Int64

// testUser is a user created for one test.
type testUser struct {
	dn, cn, upn, sam string
}

// newUser adds a user under CN=Users with extra attributes and deletes it
// when the test ends (whatever state it is in then).
func newUser(t testing.TB, d Directory, extra map[string][]string) testUser {
	t.Helper()
	n := userSeq.Add(1)
	stamp := time.Now().UnixNano() % 1_000_000
	u := testUser{cn: fmt.Sprintf("Test User %d-%d", stamp, n), sam: fmt.Sprintf("tu%d-%d", stamp, n)}
	u.upn = u.sam + "@rebind.test"
	u.dn = "CN=" + u.cn + ",CN=Users," + sambaBaseDN
	req := ldap.NewAddRequest(u.dn, nil)
	req.Attribute("objectClass", []string{"top", "person", "organizationalPerson", "user"})
	req.Attribute("sAMAccountName", []string{u.sam})
	req.Attribute("userPrincipalName", []string{u.upn})
	for k, v := range extra {
		req.Attribute(k, v)
	}
	if err := d.Add(req); err != nil {
		t.Fatalf("add test user %s: %v", u.dn, err)
	}
	t.Cleanup(func() { deleteByGUIDOrDN(d, u.dn) })
	return u
}

// deleteByGUIDOrDN removes a test user, ignoring "already gone".
func deleteByGUIDOrDN(d Directory, dn string) {
	_ = d.Del(ldap.NewDelRequest(dn, nil))
}

// rawValues reads an attribute's raw values.
func readRaw(t testing.TB, d Directory, dn, attr string) [][]byte {
	t.Helper()
	res, err := d.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{attr}, nil))
	if err != nil {
		t.Fatalf("read %s of %s: %v", attr, dn, err)
	}
	return res.Entries[0].GetEqualFoldRawAttributeValues(attr)
}
