package lab

// This file holds what the LDAP server (package lab/ldapserver) needs from
// the AD model beyond the operations in ad.go.

// Apply applies LDAP modifications to u in memory, with the same attribute
// rules as ModifyAD applies to a stored user, and stops at the first one that
// fails. It lets an LDAP add request be turned into an ADUser before
// AddADUser stores it, so that a malformed add stores nothing. u is left
// partly modified when Apply fails: apply to a copy.
func (u *ADUser) Apply(mods []ADModification) error {
	for _, m := range mods {
		if err := u.modify(m); err != nil {
			return err
		}
	}
	return nil
}

// ADHighestUSN returns the highest uSNChanged the domain has given out, the
// rootDSE's highestCommittedUSN that USN-based delta readers start from.
func (t *Tenant) ADHighestUSN() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ad.usn
}
