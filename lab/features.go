package lab

// SetSoftMatchBlocked turns the tenant's blockSoftMatchEnabled feature on or
// off: with it on, Connect never soft matches, so a cloud user whose
// immutable ID was cleared stays unmatched.
func (t *Tenant) SetSoftMatchBlocked(on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.org.BlockSoftMatch = on
}

// SetHardMatchTakeoverBlocked turns the tenant's
// blockCloudObjectTakeoverThroughHardMatchEnabled feature on or off: with it
// on, a hard match to a cloud user that is not synced fails with
// InvalidHardMatch.
func (t *Tenant) SetHardMatchTakeoverBlocked(on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.org.BlockHardMatchTakeover = on
}

// SetDuplicateResiliency turns duplicate attribute resiliency on (every
// tenant's default) or off (the behaviour the seeds' tenants show).
func (t *Tenant) SetDuplicateResiliency(on bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.org.NoDuplicateResiliency = !on
}
