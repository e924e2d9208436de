package runbooks_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rebind-dev/rebind/engine/journal"
	labmodel "github.com/rebind-dev/rebind/lab"
)

// The cases in this file are behaviours of a real tenant that the bundled
// scenarios do not show: a runbook either finishes or stops before it
// writes, with the steps Microsoft documents; each is tested both ways.

// refused runs j and checks that the plan stopped with a message holding
// every one of want, and that nothing in the lab changed.
func refused(t *testing.T, l *lab, j job, want ...string) {
	t.Helper()
	before := l.dump()
	_, err := j.run(context.Background(), testLog{t})
	var pe planError
	if !errors.As(err, &pe) {
		t.Fatalf("%s: got %v, want the plan refused", j.Runbook, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: the refusal does not say %q:\n%v", j.Runbook, w, err)
		}
	}
	unchangedExcept(t, before, l.dump(), nil)
}

const frankHolder = "8151336f-4f32-4f15-85cf-552965dc85de"

// frankJob is exchange-guid-in-use for frank, approved past its gate.
func frankJob(l *lab) job {
	j := l.newJob("exchange-guid-in-use", map[string]string{"upn": "frank@contoso.com"})
	j.Approve = []string{`step.approve.purge_mailbox["` + frankHolder + `"]`}
	return j
}

// frankFixed checks that frank's mailbox GUID is free and his error gone.
func frankFixed(t *testing.T, l *lab) {
	t.Helper()
	s := l.dump()
	if e, _ := s.cloudUser(t, "frank@contoso.com", false)["serviceProvisioningErrors"].([]any); len(e) > 0 {
		t.Errorf("frank still has Exchange errors: %v", e)
	}
	if h := s.find("recipients", "UserPrincipalName", "frank.old@contoso.com"); len(h) > 0 {
		t.Errorf("frank.old's mailbox was not purged: %v", h)
	}
}

// TestExchangeGUIDInUseUnderRetentionPolicy: the soft-deleted mailbox is
// also kept by an organization-wide retention policy (InPlaceHolds
// mbx...:2), so releasing its litigation hold would not free it. The
// runbook stops before it writes and says how to remove the mailbox from
// the policy (Set-Mailbox -ExcludeFromOrgHolds,
// learn.microsoft.com/purview/delete-an-inactive-mailbox); once that is
// done it finishes, removing the delay hold the exclusion leaves too.
func TestExchangeGUIDInUseUnderRetentionPolicy(t *testing.T) {
	l := startLab(t, "exchange-guid-in-use-held")
	refused(t, l, frankJob(l), "mbx7cfb30345d454ac0a989ab3041051209:2", "-ExcludeFromOrgHolds", "delete-an-inactive-mailbox")

	if _, err := l.in.Tenant.ExcludeFromOrgHolds(frankHolder, "7cfb30345d454ac0a989ab3041051209"); err != nil {
		t.Fatal(err)
	}
	l.apply(frankJob(l))
	frankFixed(t, l)
}

// TestExchangeGUIDInUseWhileItsUserIsInTheRecycleBin: the mailbox holding
// the GUID belongs to a user still in the Entra recycle bin; it cannot be
// removed until that user is gone. The runbook stops, then finishes once
// the user was purged.
func TestExchangeGUIDInUseWhileItsUserIsInTheRecycleBin(t *testing.T) {
	l := startLab(t, "exchange-guid-in-use")
	const oldID = "62626262-6262-6262-6262-626262626262"
	if _, err := l.in.Tenant.AddCloudUser(labmodel.CloudUser{ID: oldID, UserPrincipalName: "frank.old@contoso.com", AccountEnabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := l.in.Tenant.DeleteCloudUser(oldID); err != nil {
		t.Fatal(err)
	}
	refused(t, l, frankJob(l), "still in the Entra ID recycle bin", oldID)

	if err := l.in.Tenant.PurgeCloudUser(oldID); err != nil {
		t.Fatal(err)
	}
	rep := l.apply(frankJob(l))
	if rep.Status != journal.StatusSucceeded {
		t.Fatalf("run ended %s", rep.Status)
	}
	frankFixed(t, l)
}
