package lab

// SetSoftMatchBlocked turns the tenant's blockSoftMatchEnabled feature on or
// off: with it on, Connect never soft matches, so a cloud user whose
// immutable ID was cleared stays unmatched.
func (t *Tenant) SetSoftMatchBlocked(on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.org.BlockSoftMatch = on
}
