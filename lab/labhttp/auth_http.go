package labhttp

import (
	"net/http"
	"slices"
	"strings"

	"github.com/rebind-dev/rebind/lab"
)

// routeIdentity serves the Microsoft identity platform endpoints a client
// credential needs, the way MSAL and azidentity find and call them with
// instance discovery disabled and the lab as authority host:
//
//   - GET /{tenant}/v2.0/.well-known/openid-configuration, the OpenID
//     Connect metadata document (OpenID Connect on the Microsoft identity
//     platform, https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc),
//   - GET /{tenant}/discovery/v2.0/keys, its jwks_uri,
//   - POST /{tenant}/oauth2/v2.0/token with grant_type=client_credentials
//     and a client secret or a certificate's client assertion (Microsoft
//     identity platform and the OAuth 2.0 client credentials flow,
//     https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow;
//     auth_cert.go).
func (s *Server) routeIdentity() {
	s.identity.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.openIDConfiguration)
	s.identity.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.jwks)
	s.identity.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.token)
}

// tenantOf resolves the {tenant} segment: the tenant id or its domain.
func (s *Server) tenantOf(seg string) (string, bool) {
	id := s.t.Organization().ID
	if strings.EqualFold(seg, id) || strings.EqualFold(seg, s.t.Config().TenantDomain) {
		return id, true
	}
	return "", false
}

// issuer is the lab's token issuer for tenant id tid.
func issuer(r *http.Request, tid string) string { return baseURL(r) + "/" + tid + "/v2.0" }

func (s *Server) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	tid, ok := s.tenantOf(r.PathValue("tenant"))
	if !ok || s.auth == nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_tenant", 90002, "AADSTS90002: Tenant '"+r.PathValue("tenant")+"' not found.")
		return
	}
	base := baseURL(r) + "/" + tid
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                issuer(r, tid),
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt"},
		"response_types_supported":              []string{"token"},
		"grant_types_supported":                 []string{"client_credentials"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"subject_types_supported":               []string{"pairwise"},
		"scopes_supported":                      []string{"openid"},
		"tenant_region_scope":                   "NA",
	})
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.tenantOf(r.PathValue("tenant")); !ok || s.auth == nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_tenant", 90002, "AADSTS90002: Tenant '"+r.PathValue("tenant")+"' not found.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": []any{s.auth.jwk()}})
}

// writeOAuthError writes the token endpoint's error body: error,
// error_description and error_codes, as the client credentials page's
// "Error response example" shows.
func writeOAuthError(w http.ResponseWriter, status int, code string, aadsts int, desc string) {
	writeJSON(w, status, map[string]any{"error": code, "error_description": desc, "error_codes": []int{aadsts}})
}

// token serves the client credentials grant. The scope must be a
// resource's .default ("The value passed for the scope parameter in this
// request should be the resource identifier (application ID URI) of the
// resource you want, affixed with the .default suffix"); the token lists
// the app's consented application permissions in roles.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	tid, ok := s.tenantOf(r.PathValue("tenant"))
	if !ok || s.auth == nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_tenant", 90002, "AADSTS90002: Tenant '"+r.PathValue("tenant")+"' not found.")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", 900144, "AADSTS900144: The request body must contain form parameters: "+err.Error())
		return
	}
	f := r.PostForm
	if gt := f.Get("grant_type"); gt != "client_credentials" {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "AADSTS70003: The lab supports the client_credentials grant only, not '"+gt+"'.")
		return
	}
	// MSAL sends the OpenID Connect scopes (openid, profile,
	// offline_access) with every request ("MSAL ... always adds the
	// openid, profile and offline_access scopes", Scopes and permissions
	// in the Microsoft identity platform, OpenID Connect scopes,
	// https://learn.microsoft.com/en-us/entra/identity-platform/scopes-oidc);
	// they give an app-only token nothing and are set aside.
	scope := strings.TrimSpace(f.Get("scope"))
	var resources []string
	for _, sc := range strings.Fields(scope) {
		switch strings.ToLower(sc) {
		case "openid", "profile", "offline_access", "email":
		default:
			resources = append(resources, sc)
		}
	}
	one := ""
	if len(resources) == 1 {
		one = strings.TrimSuffix(strings.ToLower(resources[0]), "/")
	}
	var aud string
	switch one {
	case GraphResource + "/.default", strings.ToLower(baseURL(r)) + "/.default":
		// The lab is a cloud of its own whose Graph service root is its
		// URL, and "any permission scope value (including the .default
		// scope) that contains the Microsoft Graph domain MUST use the
		// domain of the Microsoft Graph service root endpoint for the
		// national cloud deployment"
		// (https://learn.microsoft.com/graph/sdks/national-clouds), so a
		// client pointed at the lab's root asks for {root}/.default. The
		// token is Graph's either way.
		aud = GraphResource
	case ExchangeResource + "/.default":
		aud = ExchangeResource
	default:
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope", 1002012,
			"AADSTS1002012: The provided value for scope "+scope+" is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI); the lab serves "+GraphResource+" and "+ExchangeResource+".")
		return
	}
	var tok string
	var err error
	if f.Get("client_assertion") != "" {
		if f.Get("client_assertion_type") != assertionType {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", 900144, "AADSTS900144: client_assertion_type must be "+assertionType+".")
			return
		}
		endpoint := baseURL(r) + r.URL.Path
		tok, _, err = s.auth.assertionToken(issuer(r, tid), tid, f.Get("client_id"), f.Get("client_assertion"), endpoint, aud)
	} else {
		tok, _, err = s.auth.appToken(issuer(r, tid), tid, f.Get("client_id"), f.Get("client_secret"), aud)
	}
	switch err {
	case nil:
	case errUnknownApp:
		writeOAuthError(w, http.StatusBadRequest, "unauthorized_client", 700016,
			"AADSTS700016: Application with identifier '"+f.Get("client_id")+"' was not found in the directory '"+s.t.Config().TenantDomain+"'.")
		return
	case errBadSecret:
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", 7000215,
			"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+f.Get("client_id")+"'.")
		return
	case errBadAssertion:
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", 700027,
			"AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application, or the client assertion failed signature validation.")
		return
	default:
		writeOAuthError(w, http.StatusInternalServerError, "server_error", 0, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": int(tokenLifetime.Seconds()),
		"ext_expires_in": int(tokenLifetime.Seconds()), "access_token": tok})
}

// authenticate verifies the bearer token of a request to a resource (aud)
// before next runs, and answers 401 with Graph's error JSON when it is
// missing or not valid ("401 Unauthorized: Required authentication
// information is either missing or not valid for the resource", Microsoft
// Graph error responses, https://learn.microsoft.com/en-us/graph/errors;
// "This error often means that the access token might be missing in the
// HTTP authenticate request header or that the token is invalid or is
// expired", https://learn.microsoft.com/en-us/graph/resolve-auth-errors).
// Without an authority (ServerOptions.Anonymous) every request passes. The
// Exchange admin API answers with the same body: no Microsoft page
// documents its 401 body, only that it needs a token (App-only
// authentication in Exchange Online PowerShell).
func (s *Server) authenticate(aud string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.auth == nil {
			next.ServeHTTP(w, r)
			return
		}
		deny := func(msg string) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="`+baseURL(r)+`/`+s.t.Organization().ID+`/oauth2/v2.0/authorize", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", msg)
		}
		h := r.Header.Get("Authorization")
		scheme, tok, _ := strings.Cut(h, " ")
		tok = strings.TrimSpace(tok)
		if h == "" || tok == "" {
			deny("Access token is empty.")
			return
		}
		if !strings.EqualFold(scheme, "Bearer") {
			deny("The Authorization header does not carry a bearer token.")
			return
		}
		c, err := s.auth.Verify(tok)
		if err != nil {
			deny("Access token validation failure: " + err.Error())
			return
		}
		if c.Tid != s.t.Organization().ID {
			deny("Access token validation failure: the token was issued for another tenant.")
			return
		}
		if !strings.EqualFold(strings.TrimSuffix(c.Aud, "/"), aud) {
			deny("Access token validation failure. Invalid audience.")
			return
		}
		next.ServeHTTP(w, r.WithContext(withClaims(r.Context(), c)))
	})
}

// permission is what a Graph call requires, as its API reference page's
// Permissions table lists it: any one of the application permissions
// (nil: "Application: Not supported."), or any one of the delegated
// permissions (nil: not supported), and for a delegated caller one of the
// directory roles when the page names roles (nil: the lab checks none).
type permission struct {
	app, delegated, roles []string
	// page is the API reference page the permissions come from.
	page string
}

// allows reports whether claims c meet p.
func (p permission) allows(c *Claims) bool {
	has := func(granted, need []string) bool {
		for _, g := range granted {
			if slices.ContainsFunc(need, func(n string) bool { return strings.EqualFold(n, g) }) {
				return true
			}
		}
		return false
	}
	if c.AppOnly() {
		return has(c.Roles, p.app)
	}
	if !has(c.Scopes(), p.delegated) {
		return false
	}
	return p.roles == nil || has(c.Wids, p.roles)
}

// allow wraps a Graph handler with its permission check: 403
// Authorization_RequestDenied, "Insufficient privileges to complete the
// operation." ("403 Forbidden: Access is denied to the requested resource.
// The user might not have enough permission", Microsoft Graph error
// responses).
func (s *Server) allow(p permission, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c := ClaimsFrom(r.Context()); c != nil && !p.allows(c) {
			writeError(w, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
			return
		}
		h(w, r)
	}
}

// The permissions of each Graph call the lab serves, from its v1.0 API
// reference page (least privileged first, then the higher privileged ones
// the page lists).
var (
	permReadUsers = permission{
		app:       []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
		delegated: []string{"User.Read", "User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
		page:      "https://learn.microsoft.com/en-us/graph/api/user-list, https://learn.microsoft.com/en-us/graph/api/user-get",
	}
	permUpdateUser = permission{
		app:       []string{"User.ReadWrite.All", "Directory.ReadWrite.All"},
		delegated: []string{"User.ReadWrite", "User.ReadWrite.All", "Directory.ReadWrite.All"},
		page:      "https://learn.microsoft.com/en-us/graph/api/user-update",
	}
	permDeleteUser = permission{
		app:       []string{"User.DeleteRestore.All", "User.ReadWrite.All"},
		delegated: []string{"User.DeleteRestore.All", "User.ReadWrite.All"},
		page:      "https://learn.microsoft.com/en-us/graph/api/user-delete",
	}
	permLicense = permission{
		app:       []string{"LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"},
		delegated: []string{"LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"},
		page:      "https://learn.microsoft.com/en-us/graph/api/user-assignlicense, https://learn.microsoft.com/en-us/graph/api/user-reprocesslicenseassignment",
	}
	permReadDeleted = permission{
		app:       []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
		delegated: []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
		page:      "https://learn.microsoft.com/en-us/graph/api/directory-deleteditems-list, https://learn.microsoft.com/en-us/graph/api/directory-deleteditems-get (user)",
	}
	permRestoreDeleted = permission{
		app:       []string{"User.DeleteRestore.All", "User.ReadWrite.All"},
		delegated: []string{"User.DeleteRestore.All", "User.ReadWrite.All"},
		page:      "https://learn.microsoft.com/en-us/graph/api/directory-deleteditems-restore (user)",
	}
	permPurgeDeleted = permission{
		app:       []string{"User.DeleteRestore.All"},
		delegated: []string{"User.DeleteRestore.All"},
		page:      "https://learn.microsoft.com/en-us/graph/api/directory-deleteditems-delete (user)",
	}
	permReadOrganization = permission{
		app:       []string{"Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
		delegated: []string{"User.Read", "Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
		page:      "https://learn.microsoft.com/en-us/graph/api/organization-list, https://learn.microsoft.com/en-us/graph/api/organization-get",
	}
	// permUpdateOrganization: "To update the onPremisesSyncEnabled
	// property" a delegated caller needs Directory Synchronization
	// Accounts or Hybrid Identity Administrator (the page's roles; Global
	// Administrator holds every permission).
	permUpdateOrganization = permission{
		app:       []string{"Organization.ReadWrite.All"},
		delegated: []string{"Organization.ReadWrite.All"},
		roles:     []string{RoleDirectorySynchronizationAcct, RoleHybridIdentityAdministrator, RoleGlobalAdministrator},
		page:      "https://learn.microsoft.com/en-us/graph/api/organization-update",
	}
	// permReadDirSync: "Application: Not supported." and "Global
	// Administrator is the only role supported for this operation."
	permReadDirSync = permission{
		delegated: []string{"OnPremDirectorySynchronization.Read.All", "OnPremDirectorySynchronization.ReadWrite.All"},
		roles:     []string{RoleGlobalAdministrator},
		page:      "https://learn.microsoft.com/en-us/graph/api/onpremisesdirectorysynchronization-get",
	}
	permReadSyncJob = permission{
		app:       []string{"Synchronization.Read.All", "Synchronization.ReadWrite.All", "Application.ReadWrite.OwnedBy"},
		delegated: []string{"Synchronization.Read.All", "Synchronization.ReadWrite.All"},
		page:      "https://learn.microsoft.com/en-us/graph/api/synchronization-synchronizationjob-get",
	}
	permRunSyncJob = permission{
		app:       []string{"Synchronization.ReadWrite.All", "Application.ReadWrite.OwnedBy"},
		delegated: []string{"Synchronization.ReadWrite.All"},
		page:      "https://learn.microsoft.com/en-us/graph/api/synchronization-synchronizationjob-start, https://learn.microsoft.com/en-us/graph/api/synchronization-synchronizationjob-restart",
	}
	// permExchange: an app calls the Exchange admin API with the
	// Exchange.ManageAsApp application permission (App-only authentication
	// in Exchange Online PowerShell,
	// https://learn.microsoft.com/en-us/powershell/exchange/app-only-auth-powershell-v2).
	// No page documents a delegated scope for this endpoint; the lab
	// accepts a delegated token holding the Exchange Administrator or
	// Global Administrator role.
	permExchange = permission{
		app:   []string{"Exchange.ManageAsApp"},
		roles: []string{RoleExchangeAdministrator, RoleGlobalAdministrator},
		page:  "https://learn.microsoft.com/en-us/powershell/exchange/app-only-auth-powershell-v2",
	}
)

// allowsExchange is permExchange for a delegated token: any scope, one of
// the roles.
func allowsExchange(c *Claims) bool {
	if c.AppOnly() {
		return permExchange.allows(c)
	}
	for _, w := range c.Wids {
		if slices.Contains(permExchange.roles, w) {
			return true
		}
	}
	return false
}

// exchangeAllowed answers 403 to a token without permExchange.
func (s *Server) exchangeAllowed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := ClaimsFrom(r.Context()); c != nil && !allowsExchange(c) {
			writeError(w, http.StatusForbidden, "Forbidden",
				"The token carries neither the Exchange.ManageAsApp application permission nor an Exchange Administrator or Global Administrator role.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// delegatedToken is the body of POST /lab/token.
type delegatedToken struct {
	// Resource is "graph" (default) or "exchange".
	Resource string `json:"resource"`
	// User is the signed-in user's UPN.
	User string `json:"user"`
	// Scp lists the delegated permissions, space separated.
	Scp string `json:"scp"`
	// Wids lists the user's directory role template ids.
	Wids []string `json:"wids"`
	// ClientID is the app the user signed in to (default: the lab's).
	ClientID string `json:"clientId"`
}

// controlToken mints a delegated token (lab only: the lab serves no
// interactive sign-in): POST /lab/token {"user":"admin@contoso.com",
// "scp":"OnPremDirectorySynchronization.Read.All",
// "wids":["62e90394-69f5-4237-9190-012177145e10"]}.
func (s *Server) controlToken(w http.ResponseWriter, r *http.Request) {
	if s.auth == nil {
		writeError(w, http.StatusConflict, "NoTokens", "This lab serves without tokens (anonymous).")
		return
	}
	var req delegatedToken
	if err := decodeBody(r, &req); err != nil || req.User == "" || strings.TrimSpace(req.Scp) == "" {
		writeError(w, http.StatusBadRequest, "BadRequest", `token wants {"user":"upn","scp":"Scope.One Scope.Two","wids":["role template id"],"resource":"graph|exchange"}`)
		return
	}
	aud := GraphResource
	switch strings.ToLower(req.Resource) {
	case "", "graph":
	case "exchange":
		aud = ExchangeResource
	default:
		writeError(w, http.StatusBadRequest, "BadRequest", "resource is graph or exchange, not "+req.Resource)
		return
	}
	if req.ClientID == "" {
		req.ClientID = lab.DefaultAppID
	}
	tid := s.t.Organization().ID
	tok, err := s.auth.Sign(Claims{Aud: aud, Iss: issuer(r, tid), Tid: tid, AppID: req.ClientID, Idtyp: "user",
		Scp: strings.Join(strings.Fields(req.Scp), " "), Wids: req.Wids, UPN: req.User})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "access_token": tok, "expires_in": int(tokenLifetime.Seconds())})
}
