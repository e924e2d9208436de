package labhttp

import (
	"errors"
	"net/http"

	"github.com/rebind-dev/rebind/lab"
)

// graphDirSyncFeatures is the part of Graph's
// onPremisesDirectorySynchronizationFeature the lab models: the two
// switches that decide whether Connect may take over cloud users.
type graphDirSyncFeatures struct {
	BlockSoftMatchEnabled                           bool `json:"blockSoftMatchEnabled"`
	BlockCloudObjectTakeoverThroughHardMatchEnabled bool `json:"blockCloudObjectTakeoverThroughHardMatchEnabled"`
}

// graphDirSync is Graph's onPremisesDirectorySynchronization entity.
type graphDirSync struct {
	ID       string               `json:"id"`
	Features graphDirSyncFeatures `json:"features"`
}

// getDirSync serves GET /directory/onPremisesSynchronization: the tenant's
// directory synchronisation features, one object per tenant.
func (s *Server) getDirSync(w http.ResponseWriter, r *http.Request) {
	org := s.t.Organization()
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context": baseURL(r) + "/v1.0/$metadata#directory/onPremisesSynchronization",
		"value": []graphDirSync{{ID: org.ID, Features: graphDirSyncFeatures{
			BlockSoftMatchEnabled:                           org.BlockSoftMatch,
			BlockCloudObjectTakeoverThroughHardMatchEnabled: org.BlockHardMatchTakeover,
		}}},
	})
}

// writeDirSyncError answers a refused PATCH /organization/{id} of
// onPremisesSyncEnabled. Turning it on before turning it off has completed
// is refused with 400 Request_BadRequest and the message Connect shows in
// that state (see DirSyncPendingDisableMessage); Graph documents no error
// text of its own for it, so rebind keys on the status and code alone.
func writeDirSyncError(w http.ResponseWriter, err error) {
	if errors.Is(err, lab.ErrDirSyncPendingDisable) {
		writeError(w, http.StatusBadRequest, "Request_BadRequest", lab.DirSyncPendingDisableMessage)
		return
	}
	writeModelError(w, err)
}
