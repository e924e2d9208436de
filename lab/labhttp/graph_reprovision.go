package labhttp

import "net/http"

// retryServiceProvisioning serves POST /users/{id}/retryServiceProvisioning:
// no request body, 204 No Content on success, as the API reference shows.
func (s *Server) retryServiceProvisioning(w http.ResponseWriter, r *http.Request) {
	if _, err := s.t.Reprovision(r.PathValue("id")); err != nil {
		writeModelError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// permRetryProvisioning is what POST /users/{id}/retryServiceProvisioning
// requires, as its API reference page lists it (least privileged first):
// application User.ManageIdentities.All, User.EnableDisableAccount.All,
// User.ReadWrite.All, Directory.ReadWrite.All; delegated User.ReadWrite and
// the same
// (https://learn.microsoft.com/graph/api/user-retryserviceprovisioning#permissions).
var permRetryProvisioning = permission{
	app: []string{"User.ManageIdentities.All", "User.EnableDisableAccount.All", "User.ReadWrite.All", "Directory.ReadWrite.All"},
	delegated: []string{"User.ReadWrite", "User.ManageIdentities.All", "User.EnableDisableAccount.All", "User.ReadWrite.All",
		"Directory.ReadWrite.All"},
	page: "https://learn.microsoft.com/graph/api/user-retryserviceprovisioning",
}
