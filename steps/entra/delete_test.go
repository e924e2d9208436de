package entra

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/lab/labhttp"
	"github.com/rebind-dev/rebind/steps"
)

// TestUserDeletedAndRestoredOnRevert: entra_user_deleted moves an active
// user to the recycle bin (DELETE /users/{id}), is a no-op once it is
// there, and its revert restores the same user.
func TestUserDeletedAndRestoredOnRevert(t *testing.T) {
	tn, _, srv := labTenant(t, "healthy", labhttp.ServerOptions{})
	c := openLab(t, srv.URL, nil)
	u, err := tn.CloudUser("admin@contoso.onmicrosoft.com")
	if err != nil {
		t.Fatal(err)
	}
	typ, call := newCall(t, "entra_user_deleted", c, map[string]any{"id": u.ID}, true)
	ch, _ := apply(t, typ, call)
	if ch.Action != steps.Delete {
		t.Fatalf("delete: %s", ch.Action)
	}
	if d, err := tn.DeletedCloudUser(u.ID); err != nil || d.ID != u.ID {
		t.Fatalf("not in the recycle bin: %v %+v", err, d)
	}
	if _, again := plan(t, typ, call); again.Action != steps.NoOp {
		t.Fatalf("deleted again: %s", again.Action)
	}
	if err := typ.(steps.Reverter).Revert(context.Background(), call, ch); err != nil {
		t.Fatal(err)
	}
	if a, err := tn.CloudUser(u.ID); err != nil || a.Deleted() {
		t.Fatalf("revert did not restore the user: %v %+v", err, a)
	}
	// A revert of a user restored already is a no-op.
	if err := typ.(steps.Reverter).Revert(context.Background(), call, ch); err != nil {
		t.Fatalf("second revert: %v", err)
	}
	// Deleted and then purged: the revert says it cannot be undone, so a
	// rollback reports it and goes on.
	apply(t, typ, call)
	if err := tn.PurgeCloudUser(u.ID); err != nil {
		t.Fatal(err)
	}
	if err := typ.(steps.Reverter).Revert(context.Background(), call, ch); !errors.Is(err, steps.ErrIrreversible) || !strings.Contains(err.Error(), "no longer in the recycle bin") {
		t.Fatalf("revert after a purge: %v, want ErrIrreversible", err)
	}
}

// TestDocumentedUserDelete: the delete is Delete user's example, a DELETE
// of /users/{id} answered 204.
func TestDocumentedUserDeleted(t *testing.T) {
	c, srv := replayClient(t, false, "user-delete")
	if err := c.deleteUser(context.Background(), documentedUser); err != nil {
		t.Fatal(err)
	}
	if srv.Served("user-delete") != 1 {
		t.Fatalf("user-delete served %d times", srv.Served("user-delete"))
	}
}
