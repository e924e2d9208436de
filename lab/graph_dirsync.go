package lab

import "net/http"

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
