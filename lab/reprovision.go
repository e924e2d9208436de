package lab

import (
	"fmt"
	"net/http"
)

// Reprovision provisions a cloud user to Exchange Online again, as Graph's
// POST /users/{id}/reprocessLicenseAssignment asks the service to: after the
// recipient that held its ExchangeGuid or ArchiveGuid was purged, the
// validation that failed is tried again and its error clears if it now
// passes.
func (t *Tenant) Reprovision(id string) (CloudUser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u, err := t.entra.resolve(id)
	if err != nil {
		return CloudUser{}, err
	}
	if u.Deleted() {
		return CloudUser{}, fmt.Errorf("entra: reprocess %s: %w: the user is deleted; restore it first", id, ErrNotFound)
	}
	t.provision(u)
	return *u, nil
}

// reprocessLicenseAssignment serves POST /users/{id}/reprocessLicenseAssignment.
func (s *Server) reprocessLicenseAssignment(w http.ResponseWriter, r *http.Request) {
	u, err := s.t.Reprovision(r.PathValue("id"))
	if err != nil {
		writeModelError(w, err)
		return
	}
	writeOne(w, r, http.StatusOK, &u, nil, false)
}
