package lab

import (
	"fmt"
)

// Reprovision retries a cloud user's service provisioning, as Graph's
// POST /users/{id}/retryServiceProvisioning does ("Retry the user service
// provisioning", https://learn.microsoft.com/graph/api/user-retryserviceprovisioning),
// the successor of MSOnline's Redo-MsolProvisionUser, which "retries the
// provisioning of a user object ... when a previous attempt to create the
// user object resulted in a validation error"
// (https://learn.microsoft.com/previous-versions/azure/dn169218(v=azure.100)).
// After the recipient that held its ExchangeGuid or ArchiveGuid was
// purged, the validation that failed is tried again and its error clears
// if it now passes. It is one of the two triggers that make Exchange
// validate a user again; the other is sync exporting a changed attribute of
// the user (see export): a sync cycle that changes nothing on the user does
// not.
func (t *Tenant) Reprovision(id string) (CloudUser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u, err := t.entra.resolve(id)
	if err != nil {
		return CloudUser{}, err
	}
	if u.Deleted() {
		return CloudUser{}, fmt.Errorf("entra: retry provisioning of %s: %w: the user is deleted; restore it first", id, ErrNotFound)
	}
	t.provision(u)
	return *u, nil
}

// exportedUser is what sync writes to a cloud user and Exchange Online
// reads of it.
type exportedUser struct {
	UPN, DisplayName, Mail, MailNickname, ImmutableID string
	ProxyAddresses                                    []string
	Exchange                                          ExchangeAttributes
	HasExchange                                       bool
}

// exported returns what sync has written to c. Sync exports only what
// changed: export pushes the changes staged on the connector space objects
// (https://learn.microsoft.com/entra/identity/hybrid/connect/concept-azure-ad-connect-sync-architecture,
// "Export"),
// and Exchange validates a user again when a change of it reaches it: the
// seed 002 procedure ends "you must trigger the AADConnect sync, so the
// changes to be synced to the cloud" after changing the attribute on
// premises. A cycle that leaves c as it was therefore validates nothing;
// retryServiceProvisioning is the way to have an unchanged user validated
// again.
func exported(c *CloudUser) exportedUser {
	e := exportedUser{UPN: c.UserPrincipalName, DisplayName: c.DisplayName, Mail: c.Mail, MailNickname: c.MailNickname,
		ImmutableID: c.OnPremisesImmutableID, ProxyAddresses: c.ProxyAddresses}
	if c.Exchange != nil {
		e.Exchange, e.HasExchange = *c.Exchange, true
	}
	return e
}
