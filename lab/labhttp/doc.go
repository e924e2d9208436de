// Package labhttp serves the lab tenant (package lab) over HTTP, the way the
// Microsoft services a hybrid tenant's tools talk to answer:
//
//   - Microsoft Graph v1.0 (/v1.0/...): users, deleted items, licenses,
//     organization, onPremisesSynchronization, role assignments, Cloud
//     Sync jobs and JSON batching (graph*.go), each route checking the
//     permissions its reference page lists (auth_http.go);
//   - the Exchange Online admin API's InvokeCommand (exoapi.go,
//     exo_filter.go for -Filter);
//   - the Microsoft identity platform's OpenID configuration, keys and
//     token endpoint (auth.go, auth_cert.go, auth_http.go);
//   - the lab's own control API under /lab/ (control.go), with the Connect
//     server's and the on-premises Exchange server's command surfaces
//     (connect_shell.go, exchange_shell.go);
//   - Graph's throttling (throttle.go), injected faults (server.go) and the
//     request guards every route shares: body limits, canonical paths,
//     Graph-shaped errors for 404, 405 and panics (httpguard.go).
//
// Each behaviour cites the Microsoft page it follows where it is defined.
// The package reaches the model only through lab.Tenant's exported methods,
// which take the tenant's lock; it keeps no tenant state of its own but
// the HTTP server's (throttle buckets, faults, Cloud Sync job state, Exchange
// listings). lab/instance runs a Server on a listener with the lab's CA.
package labhttp
