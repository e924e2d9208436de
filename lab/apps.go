package lab

// The tenant's app registrations (Config is the tenant's; a scenario's
// "apps" add to the default one). The HTTP surface (lab/labhttp) issues
// their tokens.

// DefaultAppID is the client id of the lab's default app registration.
const DefaultAppID = "7e3b9c1a-52d4-4f0e-9a61-0c5d2b8e4f17"

// App is an app registration of the lab tenant: a client id, its
// credentials (a secret, certificates), and the application permissions
// an admin consented to (roles).
type App struct {
	Name     string `json:"name"`
	ClientID string `json:"clientId"`
	Secret   string `json:"secret,omitempty"`
	// Certificates are PEM certificates (RSA keys) whose private keys
	// may sign the app's client assertions.
	Certificates []string `json:"certificates,omitempty"`
	Roles        []string `json:"roles"`
}

// DefaultAppRoles are the application permissions of the lab's default
// app: what the bundled runbooks' steps call needs, each the permission the
// call's Graph reference page lists (the perm... table in
// lab/labhttp/auth_http.go), plus
// Exchange.ManageAsApp for the Exchange admin API (App-only authentication
// in Exchange Online PowerShell,
// https://learn.microsoft.com/en-us/powershell/exchange/app-only-auth-powershell-v2).
// It has no OnPremDirectorySynchronization permission: that API has none
// for apps.
var DefaultAppRoles = []string{
	"User.ReadWrite.All", "User.DeleteRestore.All", "LicenseAssignment.ReadWrite.All",
	"Organization.ReadWrite.All", "Synchronization.ReadWrite.All", "Exchange.ManageAsApp",
	"RoleManagement.Read.Directory",
}
