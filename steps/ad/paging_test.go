package ad_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/lab/ldapserver"
	"github.com/rebind-dev/rebind/steps/ad"
)

// failingDirectory fails the searches whose numbers (from 1) are in fail,
// as a dropped connection does.
type failingDirectory struct {
	ad.Directory
	n    atomic.Int64
	fail map[int64]bool
}

func (f *failingDirectory) Search(r *ldap.SearchRequest) (*ldap.SearchResult, error) {
	if f.fail[f.n.Add(1)] {
		return nil, ldap.NewError(ldap.ErrorNetwork, errors.New("connection reset"))
	}
	return f.Directory.Search(r)
}

// TestUsersDataPagesAndRestarts: ad_users reads its pages one search at a
// time (RFC 2696's cookie), and when a page after the first fails it
// starts the search again once, as a search of all pages at once did; a
// second failure is reported.
func TestUsersDataPagesAndRestarts(t *testing.T) {
	d := startLab(t, ldapserver.Options{MaxPageSize: 4})
	dir := d.open(t)
	for i := 0; i < 10; i++ {
		addUser(t, dir, fmt.Sprintf("Restart%02d", i), map[string][]string{"mail": {fmt.Sprintf("restart%02d@paging.example", i)}})
	}
	filter := map[string]cty.Value{"filter": s("(mail=*@paging.example)")}

	// 10 users in pages of 4: three searches; the second fails once.
	f := &failingDirectory{Directory: dir, fail: map[int64]bool{2: true}}
	users := step(t, "ad_users", f, filter).observe().Value.GetAttr("users")
	if users.LengthInt() != 10 {
		t.Fatalf("ad_users read %d users, want 10", users.LengthInt())
	}
	if n := f.n.Load(); n != 5 {
		t.Fatalf("%d searches, want 5 (one page, the failed one, then three pages again)", n)
	}

	f = &failingDirectory{Directory: dir, fail: map[int64]bool{2: true, 4: true}}
	r := step(t, "ad_users", f, filter)
	if _, err := r.typ.Observe(t.Context(), r.call); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("two failures: %v", err)
	}
}
