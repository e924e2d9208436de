package labhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rebind-dev/rebind/lab"
)

// routeGraph registers the Microsoft Graph v1.0 calls DOMAIN.md lists.
func (s *Server) routeGraph() {
	g := s.graph
	// Each call checks the permission its API reference page lists
	// (auth_http.go).
	g.HandleFunc("GET /v1.0/users", s.allow(permReadUsers, s.listUsers))
	g.HandleFunc("GET /v1.0/users/$count", s.allow(permReadUsers, s.countUsers))
	g.HandleFunc("GET /v1.0/users/{id}", s.allow(permReadUsers, s.getUser))
	g.HandleFunc("PATCH /v1.0/users/{id}", s.allow(permUpdateUser, s.patchUser))
	g.HandleFunc("DELETE /v1.0/users/{id}", s.allow(permDeleteUser, s.deleteUser))
	g.HandleFunc("POST /v1.0/users/{id}/assignLicense", s.allow(permLicense, s.assignLicense))
	g.HandleFunc("POST /v1.0/users/{id}/retryServiceProvisioning", s.allow(permRetryProvisioning, s.retryServiceProvisioning))
	for _, cast := range []string{"microsoft.graph.user", "graph.user"} {
		g.HandleFunc("GET /v1.0/directory/deletedItems/"+cast, s.allow(permReadDeleted, s.listDeleted))
	}
	g.HandleFunc("GET /v1.0/directory/deletedItems/{id}", s.allow(permReadDeleted, s.getDeleted))
	g.HandleFunc("DELETE /v1.0/directory/deletedItems/{id}", s.allow(permPurgeDeleted, s.purgeDeleted))
	g.HandleFunc("POST /v1.0/directory/deletedItems/{id}/restore", s.allow(permRestoreDeleted, s.restoreDeleted))
	g.HandleFunc("GET /v1.0/organization", s.allow(permReadOrganization, s.listOrganization))
	g.HandleFunc("GET /v1.0/organization/{id}", s.allow(permReadOrganization, s.getOrganization))
	g.HandleFunc("GET /v1.0/directory/onPremisesSynchronization", s.allow(permReadDirSync, s.getDirSync))
	g.HandleFunc("PATCH /v1.0/organization/{id}", s.allow(permUpdateOrganization, s.patchOrganization))
	g.HandleFunc("GET /v1.0/roleManagement/directory/roleAssignments", s.allow(permReadRoleAssignments, s.listRoleAssignments))
	g.HandleFunc("POST /v1.0/$batch", s.batch)
	g.HandleFunc("/v1.0/", s.graphNotFound)
	g.HandleFunc("/v1.0", s.graphNotFound)
}

// graphNotFound answers a Graph request no route takes: a path the lab
// serves with other methods gets 405 Request_BadRequest, "Specified HTTP
// method is not allowed for the request target." (the answer the
// json-batching page shows, https://learn.microsoft.com/en-us/graph/json-batching),
// any other 400, "Resource not found for the segment".
func (s *Server) graphNotFound(w http.ResponseWriter, r *http.Request) {
	if allowed := allowedMethods(s.graph, r, "/v1.0/", "/v1.0"); len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
		return
	}
	writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Resource not found for the segment in %s %s (the lab serves only the calls rebind uses).", r.Method, r.URL.Path))
}

// baseURL returns the scheme and host the client used.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// filterClause matches one `property eq 'value'` clause of $filter;
// filterAnd splits clauses.
var (
	filterClause = regexp.MustCompile(`^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$`)
	filterAnd    = regexp.MustCompile(`(?i)\s+and\s+`)
)

// parseFilter reads the $filter forms the lab supports: equality on
// userPrincipalName and onPremisesImmutableId, joined by "and".
func parseFilter(f string, q *lab.CloudQuery) error {
	if f == "" {
		return nil
	}
	for _, clause := range filterAnd.Split(f, -1) {
		if v, ok := upnEndsWith(clause); ok {
			q.UPNSuffix = v
			continue
		}
		if name, vals, ok, err := inClause(clause); ok {
			if err != nil {
				return err
			}
			switch strings.ToLower(name) {
			case "id":
				q.IDs = vals
			case "userprincipalname":
				q.UPNs = vals
			default:
				return fmt.Errorf("Unsupported or invalid query filter clause specified for property '%s' of resource 'User'.", name)
			}
			continue
		}
		m := filterClause.FindStringSubmatch(clause)
		if m == nil {
			return fmt.Errorf("Unsupported or invalid query filter clause specified: %q; the lab supports \"property eq 'value'\".", clause)
		}
		v := strings.ReplaceAll(m[2], "''", "'")
		switch strings.ToLower(m[1]) {
		case "userprincipalname":
			q.UserPrincipalName = v
		case "onpremisesimmutableid":
			q.ImmutableID = v
		default:
			return fmt.Errorf("Unsupported or invalid query filter clause specified for property '%s' of resource 'User'.", m[1])
		}
	}
	return nil
}

// inPrefix matches the start of a `property in (...)` clause.
var inPrefix = regexp.MustCompile(`(?i)^\s*(\w+)\s+in\s*\(`)

// inClause reads `property in ('a','b')`: "the in operator ... checks
// whether a property's value is in a list of values"; the user resource
// lists `in` among the $filter operators of userPrincipalName and id
// (https://learn.microsoft.com/graph/api/resources/user#properties). ok
// reports whether the clause is an `in`; err, a malformed list.
func inClause(clause string) (name string, vals []string, ok bool, err error) {
	m := inPrefix.FindStringSubmatchIndex(clause)
	if m == nil {
		return "", nil, false, nil
	}
	name = clause[m[2]:m[3]]
	rest := clause[m[1]:]
	bad := fmt.Errorf("Invalid filter clause: the list of the 'in' operator on '%s' must be quoted strings separated by commas: %q.", name, clause)
	for {
		rest = strings.TrimLeft(rest, " ")
		if !strings.HasPrefix(rest, "'") {
			return name, nil, true, bad
		}
		// A quote inside a literal is doubled (OData ABNF, SQUOTE-in-string).
		i, v := 1, strings.Builder{}
		for {
			if i >= len(rest) {
				return name, nil, true, bad
			}
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					v.WriteByte('\'')
					i += 2
					continue
				}
				break
			}
			v.WriteByte(rest[i])
			i++
		}
		vals = append(vals, v.String())
		rest = strings.TrimLeft(rest[i+1:], " ")
		switch {
		case strings.HasPrefix(rest, ","):
			rest = rest[1:]
		case strings.TrimSpace(rest) == ")":
			return name, vals, true, nil
		default:
			return name, nil, true, bad
		}
	}
}

// maxInValues is how many values the `in` operator takes outside an
// advanced query. "The maximum number of expressions in a filter clause
// when using the in operator is 15 items by default" (the $filter page,
// https://learn.microsoft.com/graph/filter-query-parameter, as changed by
// microsoftgraph/microsoft-graph-docs pull request 22097; it now points to
// the known issues, https://learn.microsoft.com/graph/known-issues?search=13635).
// A 16th value is refused with "Too many child clauses specified in search
// filter expression containing 'OR' operators: 16. Max allowed: 15"
// (microsoftgraph/microsoft-graph-docs issue 21098, the report that page
// answers). With the advanced query parameters the limit is the request's
// length instead, which the lab does not enforce. The status and code (400
// Request_UnsupportedQuery) are the lab's: the report does not show them.
const maxInValues = 15

// tooManyIn refuses an `in` list longer than maxInValues outside an
// advanced query.
func tooManyIn(r *http.Request, q lab.CloudQuery) error {
	n := max(len(q.IDs), len(q.UPNs))
	if n <= maxInValues || advancedQuery(r) {
		return nil
	}
	return fmt.Errorf("Too many child clauses specified in search filter expression containing 'OR' operators: %d. Max allowed: %d", n, maxInValues)
}

// advancedQuery reports whether r carries the advanced query parameters:
// ConsistencyLevel: eventual and $count=true
// (https://learn.microsoft.com/graph/aad-advanced-queries).
func advancedQuery(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("ConsistencyLevel"), "eventual") && strings.EqualFold(r.URL.Query().Get("$count"), "true")
}

// countUsers serves GET /users/$count. "Counting directory objects is only
// supported using the advanced queries parameters. If the
// ConsistencyLevel=eventual header is not specified, the request returns an
// error when the $count URL segment is used": 400 Request_BadRequest,
// "$count is not currently supported."
// (https://learn.microsoft.com/graph/aad-advanced-queries#error-handling-for-advanced-queries-on-directory-objects).
// With the header the answer is the number as text/plain (List users,
// "Get only a count of users", https://learn.microsoft.com/graph/api/user-list).
func (s *Server) countUsers(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("ConsistencyLevel"), "eventual") {
		writeError(w, http.StatusBadRequest, "Request_BadRequest", "$count is not currently supported.")
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = fmt.Fprint(w, s.t.ActiveCloudUsers())
}

// listUsers serves GET /users and GET /directory/deletedItems/microsoft.graph.user.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) { s.list(w, r, false) }

func (s *Server) listDeleted(w http.ResponseWriter, r *http.Request) { s.list(w, r, true) }

func (s *Server) list(w http.ResponseWriter, r *http.Request, deleted bool) {
	qs := r.URL.Query()
	sel, err := parseSelect(qs.Get("$select"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Request_BadRequest", err.Error())
		return
	}
	top := 100
	if v := qs.Get("$top"); v != "" {
		top, err = strconv.Atoi(v)
		if err != nil || top < 1 || top > 999 {
			writeError(w, http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Invalid page size specified: '%s'. Must be between 1 and 999 inclusive.", v))
			return
		}
	}
	q := lab.CloudQuery{Deleted: deleted, After: qs.Get("$skiptoken"), Limit: top}
	if err := parseFilter(qs.Get("$filter"), &q); err != nil {
		writeError(w, http.StatusBadRequest, "Request_UnsupportedQuery", err.Error())
		return
	}
	if err := tooManyIn(r, q); err != nil {
		writeError(w, http.StatusBadRequest, "Request_UnsupportedQuery", err.Error())
		return
	}
	if err := needAdvancedQuery(r, q); err != nil {
		writeError(w, http.StatusBadRequest, "Request_UnsupportedQuery", err.Error())
		return
	}
	users, more := s.t.CloudUsers(q)
	var buf bytes.Buffer
	buf.Grow(512 + 320*len(users))
	ctx := "users"
	if deleted {
		ctx = "directoryObjects/graph.user"
	}
	buf.WriteString(`{"@odata.context":`)
	writeString(&buf, baseURL(r)+"/v1.0/$metadata#"+ctx)
	if more {
		next := url.Values{}
		for k, v := range qs {
			next[k] = v
		}
		next.Set("$skiptoken", users[len(users)-1].ID)
		buf.WriteString(`,"@odata.nextLink":`)
		writeString(&buf, baseURL(r)+r.URL.Path+"?"+next.Encode())
	}
	buf.WriteString(`,"value":[`)
	for i := range users {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeUser(&buf, &users[i], sel, deleted, "")
	}
	buf.WriteString("]}")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// writeOne writes a single user (typed as a directory object when it comes
// from deletedItems).
func writeOne(w http.ResponseWriter, r *http.Request, status int, u *lab.CloudUser, sel []string, typed bool) {
	var buf bytes.Buffer
	ctx := "users/$entity"
	if typed {
		ctx = "directoryObjects/$entity"
	}
	writeUser(&buf, u, sel, typed, baseURL(r)+"/v1.0/$metadata#"+ctx)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	getOne(w, r, s.t.CloudUser, false)
}

func (s *Server) getDeleted(w http.ResponseWriter, r *http.Request) {
	getOne(w, r, s.t.DeletedCloudUser, true)
}

// getOne serves GET of the user {id} that find finds (active or in the
// recycle bin), with its $select; typed writes it as a directory object
// (deletedItems).
func getOne(w http.ResponseWriter, r *http.Request, find func(id string) (lab.CloudUser, error), typed bool) {
	sel, err := parseSelect(r.URL.Query().Get("$select"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Request_BadRequest", err.Error())
		return
	}
	u, err := find(r.PathValue("id"))
	if err != nil {
		writeNotFound(w, r.PathValue("id"))
		return
	}
	writeOne(w, r, http.StatusOK, &u, sel, typed)
}

// writeNotFound writes Graph's 404 for a directory object.
func writeNotFound(w http.ResponseWriter, id string) {
	writeError(w, http.StatusNotFound, "Request_ResourceNotFound",
		fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id))
}

// readBody decodes a JSON object body into a map of raw values; an empty
// body is an empty object.
func readBody(r *http.Request) (map[string]json.RawMessage, error) {
	b, err := requestBody(r)
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	m := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(b)) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("the request body is not a JSON object: %w", err)
	}
	return m, nil
}

// connectSynchronized maps the Graph user properties the lab does not
// store, but Entra Connect fills from an AD attribute it synchronizes, to
// that attribute, as "Attributes synchronized to Microsoft Entra ID" lists
// them (https://learn.microsoft.com/entra/identity/hybrid/connect/reference-connect-sync-attributes-synchronized).
// On a synced user Graph refuses to write them (OnPremMasteredMessage): they are
// the identity, job and contact info the admin center says "You must use
// Windows Server Active Directory to update" for "users whose source of
// authority is Windows Server Active Directory"
// (https://learn.microsoft.com/entra/fundamentals/how-to-manage-user-profile-info),
// and of onPremisesExtensionAttributes the user-update page says "For an
// onPremisesSyncEnabled user, the source of authority for this set of
// properties is the on-premises and is read-only"
// (https://learn.microsoft.com/graph/api/user-update). displayName,
// userPrincipalName, accountEnabled and onPremisesImmutableId are stored and
// refused by PatchCloudUser. usageLocation is in the list too, as a
// "mechanical property ... Used for license assignment"; no page read
// says whether the cloud may set it on a synced user, so the lab leaves it
// out (and stores none).
var connectSynchronized = map[string]string{
	"givenName":                     "givenName",
	"surname":                       "sn",
	"jobTitle":                      "title",
	"department":                    "department",
	"companyName":                   "company",
	"city":                          "l",
	"state":                         "st",
	"streetAddress":                 "streetAddress",
	"postalCode":                    "postalCode",
	"country":                       "co",
	"officeLocation":                "physicalDeliveryOfficeName",
	"businessPhones":                "telephoneNumber",
	"mobilePhone":                   "mobile",
	"faxNumber":                     "facsimiletelephonenumber",
	"mail":                          "mail",
	"mailNickname":                  "mailNickname",
	"preferredLanguage":             "preferredLanguage",
	"onPremisesExtensionAttributes": "extensionAttribute1-15",
}

// maxDisplayName is the longest displayName a user may have: "Maximum
// length is 256 characters" (user resource,
// https://learn.microsoft.com/en-us/graph/api/resources/user).
const maxDisplayName = 256

// patchUser serves PATCH /users/{id}: an explicit null clears
// onPremisesImmutableId.
func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	var p lab.CloudUserPatch
	var unmodelled []string
	for k, v := range body {
		null := string(bytes.TrimSpace(v)) == "null"
		var err error
		switch k {
		case "onPremisesImmutableId":
			if null {
				p.ClearImmutableID = true
			} else {
				err = json.Unmarshal(v, &p.ImmutableID)
			}
		case "displayName":
			// "it can't be cleared during updates" (user resource).
			err = json.Unmarshal(v, &p.DisplayName)
			if err == nil && (p.DisplayName == nil || *p.DisplayName == "" || utf8.RuneCountInString(*p.DisplayName) > maxDisplayName) {
				err = fmt.Errorf("Invalid value specified for property 'displayName' of resource 'User': it is required and holds at most %d characters.", maxDisplayName)
			}
		case "userPrincipalName":
			err = json.Unmarshal(v, &p.UserPrincipalName)
		case "accountEnabled":
			err = json.Unmarshal(v, &p.AccountEnabled)
		case "@odata.type":
		default:
			if connectSynchronized[k] != "" {
				// Checked against the user below: Graph's refusal on a
				// synced user, the lab's own on a cloud one.
				unmodelled = append(unmodelled, k)
				continue
			}
			if userProperties[k] != nil {
				err = fmt.Errorf("property '%s' is read-only in the lab", k)
			} else {
				err = fmt.Errorf("Invalid property '%s'.", k)
			}
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "Request_BadRequest", err.Error())
			return
		}
	}
	id := r.PathValue("id")
	if u, err := s.t.CloudUser(id); err == nil {
		id = u.ID
		if len(unmodelled) > 0 {
			sort.Strings(unmodelled)
			if u.Synced() {
				writeError(w, http.StatusBadRequest, "Request_BadRequest", lab.OnPremMasteredMessage)
			} else {
				writeError(w, http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("property '%s' is read-only in the lab: it does not store it", unmodelled[0]))
			}
			return
		}
	}
	if _, err := s.t.PatchCloudUser(id, p); err != nil {
		if errors.Is(err, lab.ErrNotFound) {
			writeNotFound(w, r.PathValue("id"))
			return
		}
		writeModelError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.t.CloudUser(r.PathValue("id"))
	if err != nil {
		writeNotFound(w, r.PathValue("id"))
		return
	}
	if err := s.t.DeleteCloudUser(u.ID); err != nil {
		writeModelError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// assignLicense serves POST /users/{id}/assignLicense.
func (s *Server) assignLicense(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AddLicenses    []graphAssignedLicense `json:"addLicenses"`
		RemoveLicenses []string               `json:"removeLicenses"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "Request_BadRequest", "The request body is not an assignLicense request: "+err.Error())
		return
	}
	u, err := s.t.CloudUser(r.PathValue("id"))
	if err != nil {
		writeNotFound(w, r.PathValue("id"))
		return
	}
	var lic []string
	for _, l := range u.AssignedLicenses {
		drop := false
		for _, rm := range req.RemoveLicenses {
			drop = drop || strings.EqualFold(rm, l)
		}
		if !drop {
			lic = append(lic, l)
		}
	}
	for _, a := range req.AddLicenses {
		if !containsFold(lic, a.SkuID) {
			lic = append(lic, strings.ToLower(a.SkuID))
		}
	}
	if lic == nil {
		lic = []string{}
	}
	u, err = s.t.PatchCloudUser(u.ID, lab.CloudUserPatch{AssignedLicenses: &lic})
	if err != nil {
		writeModelError(w, err)
		return
	}
	writeOne(w, r, http.StatusOK, &u, nil, false)
}

func containsFold(l []string, s string) bool {
	for _, v := range l {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func (s *Server) purgeDeleted(w http.ResponseWriter, r *http.Request) {
	if err := s.t.PurgeCloudUser(r.PathValue("id")); err != nil {
		writeNotFound(w, r.PathValue("id"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// restoreDeleted serves POST /directory/deletedItems/{id}/restore with its
// optional body.
func (s *Server) restoreDeleted(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AutoReconcileProxyConflict bool   `json:"autoReconcileProxyConflict"`
		NewUserPrincipalName       string `json:"newUserPrincipalName"`
	}
	b, err := requestBody(r)
	if err == nil && len(bytes.TrimSpace(b)) > 0 {
		err = json.Unmarshal(b, &req)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "Request_BadRequest", "The restore request body is invalid: "+err.Error())
		return
	}
	u, err := s.t.RestoreCloudUser(r.PathValue("id"), lab.RestoreOptions{AutoReconcileProxyConflict: req.AutoReconcileProxyConflict, NewUserPrincipalName: req.NewUserPrincipalName})
	if err != nil {
		if errors.Is(err, lab.ErrNotFound) {
			writeNotFound(w, r.PathValue("id"))
			return
		}
		writeModelError(w, err)
		return
	}
	writeOne(w, r, http.StatusOK, &u, nil, true)
}

func (s *Server) listOrganization(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": baseURL(r) + "/v1.0/$metadata#organization",
		"value": []graphOrganization{orgOf(s.t)}})
}

func (s *Server) getOrganization(w http.ResponseWriter, r *http.Request) {
	o := orgOf(s.t)
	if !strings.EqualFold(r.PathValue("id"), o.ID) {
		writeNotFound(w, r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// patchOrganization serves PATCH /organization/{id}; only
// onPremisesSyncEnabled is writable.
func (s *Server) patchOrganization(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.PathValue("id"), s.t.Organization().ID) {
		writeNotFound(w, r.PathValue("id"))
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	for k, v := range body {
		if k == "@odata.type" {
			// Graph accepts the type annotation the SDK always sends.
			continue
		}
		if k != "onPremisesSyncEnabled" {
			writeError(w, http.StatusBadRequest, "Request_BadRequest", fmt.Sprintf("Property '%s' of the organization is not writable in the lab.", k))
			return
		}
		var on bool
		if err := json.Unmarshal(v, &on); err != nil {
			writeError(w, http.StatusBadRequest, "Request_BadRequest", "onPremisesSyncEnabled must be true or false.")
			return
		}
		if err := s.t.SetDirSyncEnabled(on); err != nil {
			writeDirSyncError(w, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// needAdvancedQuery refuses an endswith filter sent without the advanced
// query parameters: "these advanced query capabilities aren't available by
// default but, the requestor must set the ConsistencyLevel header to
// eventual and ... use the $count query parameter"
// (https://learn.microsoft.com/graph/aad-advanced-queries). The message is
// the lab's own.
func needAdvancedQuery(r *http.Request, q lab.CloudQuery) error {
	if q.UPNSuffix == "" {
		return nil
	}
	if !strings.EqualFold(r.Header.Get("ConsistencyLevel"), "eventual") || !strings.EqualFold(r.URL.Query().Get("$count"), "true") {
		return fmt.Errorf("Operator 'endsWith' is not supported without the advanced query parameters (ConsistencyLevel: eventual and $count=true).")
	}
	return nil
}

// upnEndsWith reads an `endswith(userPrincipalName,'value')` clause.
var upnEndsWithClause = regexp.MustCompile(`(?i)^\s*endswith\(\s*userPrincipalName\s*,\s*'((?:[^']|'')*)'\s*\)\s*$`)

func upnEndsWith(clause string) (string, bool) {
	m := upnEndsWithClause.FindStringSubmatch(clause)
	if m == nil {
		return "", false
	}
	return strings.ReplaceAll(m[1], "''", "'"), true
}
