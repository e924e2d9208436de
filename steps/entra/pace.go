package entra

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/httpx"
)

// throttlingLimits is the page Graph's identity throttling is documented
// on: "Microsoft Graph service-specific throttling limits", section
// "Identity and access service limits"
// (microsoftgraph/microsoft-graph-docs-contrib, concepts/throttling-limits.md).
const throttlingLimits = "https://learn.microsoft.com/graph/throttling-limits#identity-and-access-service-limits"

// tiers are the resource unit quotas of the page's table, "Limit type:
// application+tenant pair | Resource unit quota: S: 3,500 requests per 10
// seconds, M: 5,000 requests per 10 seconds, L: 8,000 requests per 10
// seconds | Write quota: 3,000 requests per 2 minutes and 30 seconds",
// where "The tenant sizes are defined as follows: S - under 50 users, M -
// between 50 and 500 users, and L - above 500 users." rebind cannot know
// which size Microsoft counts a tenant as before it reads it, so a target
// paces under the small tenant's quota unless its throttle_tier says
// otherwise.
var tiers = map[string]int64{"small": 3500, "medium": 5000, "large": 8000}

const (
	// unitWindow is the resource unit quota's window.
	unitWindow = 10 * time.Second
	// writeQuota and writeWindow are the write quota, the same for every
	// tenant size.
	writeQuota  = 3000
	writeWindow = 150 * time.Second
	// defaultTier is what a target paces under without throttle_tier.
	defaultTier = "small"
)

// unpaced is the throttle_tier that sends requests without pacing: for a
// Graph whose throttling is not Microsoft's (a lab serving tests with its
// limits lifted). Each request that is asked to wait still waits, in the
// SDK's retry handler or the batcher, but the others are not held back.
const unpaced = "none"

// tierBudget is the budget of a named tier.
func tierBudget(tier string) (steps.Budget, error) {
	if tier == unpaced {
		return steps.Budget{Service: steps.ServiceGraph, Tier: unpaced}, nil
	}
	units, ok := tiers[tier]
	if !ok {
		return steps.Budget{}, fmt.Errorf("throttle_tier %q is not one of small, medium, large (Graph's tenant sizes, %s), or none", tier, throttlingLimits)
	}
	return steps.Budget{Service: steps.ServiceGraph, Tier: tier, Units: units, Window: unitWindow,
		Writes: writeQuota, WriteWindow: writeWindow, Source: throttlingLimits}, nil
}

// Budget reads the target's throttle_tier without opening it.
func (targetType) Budget(cfg steps.TargetConfig) (steps.Budget, bool, error) {
	tier, ok := steps.String(cfg.Config, "throttle_tier")
	if !ok {
		tier = defaultTier
	}
	b, err := tierBudget(tier)
	if err != nil {
		return b, false, fmt.Errorf("entra: target %s: %w", cfg.Name, err)
	}
	return b, tier != unpaced, nil
}

// Budget is the budget the client paces under.
func (c *Client) Budget() steps.Budget { return c.pacer.Budget() }

// PacerStats is what the client's pacer counted: the requests sent, the
// resource units and writes they spent, the answers that asked to wait.
func (c *Client) PacerStats() httpx.PacerStats { return c.pacer.Stats() }

// baseCosts are the page's "base request costs. Any requests not listed
// have a base cost of 1." (Operation, Request Path, Base Resource Unit
// Cost, Write Cost), with {id} matching one path segment.
var baseCosts = []struct {
	method, path  string
	units, writes int
}{
	{"GET", "applications", 2, 0},
	{"GET", "applications/{id}/extensionProperties", 2, 0},
	{"GET", "contracts", 3, 0},
	{"POST", "directoryObjects/getByIds", 3, 0},
	{"GET", "domains/{id}/domainNameReferences", 4, 0},
	{"POST", "getObjectsById", 3, 0},
	{"GET", "groups/{id}/members", 3, 0},
	{"GET", "groups/{id}/transitiveMembers", 5, 0},
	{"POST", "isMemberOf", 4, 0},
	{"POST", "me/checkMemberGroups", 4, 0},
	{"POST", "me/checkMemberObjects", 4, 0},
	{"POST", "me/getMemberGroups", 2, 0},
	{"POST", "me/getMemberObjects", 2, 0},
	{"GET", "me/licenseDetails", 2, 0},
	{"GET", "me/memberOf", 2, 0},
	{"GET", "me/ownedObjects", 2, 0},
	{"GET", "me/transitiveMemberOf", 2, 0},
	{"GET", "oauth2PermissionGrants", 2, 0},
	{"GET", "oauth2PermissionGrants/{id}", 2, 0},
	{"GET", "servicePrincipals/{id}/appRoleAssignments", 2, 0},
	{"GET", "subscribedSkus", 3, 0},
	{"GET", "users", 2, 0},
}

// requestCost is what one Graph request costs under the page's rules:
// its base cost from the table (1 when not listed; a write cost of 1 for
// any POST, PATCH, PUT or DELETE not listed), then "Using $select
// decreases cost by 1", "Using $expand increases cost by 1", "Using $top
// with a value of less than 20 decreases cost by 1", and "A request cost
// can never be lower than 1. Any request cost that applies to a request
// path starting with me/ also applies to equivalent requests starting
// with users/{id | userPrincipalName}/." path is below the version
// ("users/{id}"), q its query.
func requestCost(method, path string, q url.Values) (units, writes int) {
	method = strings.ToUpper(method)
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) > 2 && strings.EqualFold(segs[0], "users") {
		segs = append([]string{"me"}, segs[2:]...)
	}
	units = 1
	if method != http.MethodGet && method != http.MethodHead {
		writes = 1
	}
	for _, row := range baseCosts {
		if row.method == method && pathMatches(row.path, segs) {
			units, writes = row.units, row.writes
			break
		}
	}
	if q.Get("$select") != "" {
		units--
	}
	if q.Get("$expand") != "" {
		units++
	}
	if top, err := strconv.Atoi(q.Get("$top")); err == nil && top < 20 {
		units--
	}
	return max(units, 1), writes
}

func pathMatches(pattern string, segs []string) bool {
	ps := strings.Split(pattern, "/")
	if len(ps) != len(segs) {
		return false
	}
	for i, p := range ps {
		if p != "{id}" && !strings.EqualFold(p, segs[i]) {
			return false
		}
	}
	return true
}

// httpCost is what a request leaving the client costs: a JSON batch costs
// what its requests cost, each charged on its own (the page's table has
// no row for $batch, and the lab charges the items); anything else by
// requestCost of its path below /v1.0.
func httpCost(r *http.Request) (units, writes int) {
	path := versionPath(r.URL.Path)
	if r.Method == http.MethodPost && path == "$batch" && r.Body != nil {
		if r.GetBody == nil {
			// Read the body once and hand the transport a copy.
			raw, err := io.ReadAll(r.Body)
			r.Body.Close()
			r.Body = io.NopCloser(bytes.NewReader(raw))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
			if err != nil {
				return requestCost(r.Method, path, r.URL.Query())
			}
		}
		if body, err := r.GetBody(); err == nil {
			defer body.Close()
			if u, w, ok := batchCost(body); ok {
				return u, w
			}
		}
	}
	return requestCost(r.Method, path, r.URL.Query())
}

// versionPath is a request path without its leading "/v1.0/" (or
// "/beta/").
func versionPath(p string) string {
	p = strings.TrimPrefix(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 && (p[:i] == "v1.0" || p[:i] == "beta") {
		return p[i+1:]
	}
	return p
}

// batchCost sums the costs of a JSON batch's requests.
func batchCost(body io.Reader) (units, writes int, ok bool) {
	var b struct {
		Requests []struct {
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"requests"`
	}
	if json.NewDecoder(body).Decode(&b) != nil || len(b.Requests) == 0 {
		return 0, 0, false
	}
	for _, r := range b.Requests {
		u, err := url.Parse(r.URL)
		if err != nil {
			u = &url.URL{Path: r.URL}
		}
		cu, cw := requestCost(r.Method, strings.TrimPrefix(u.Path, "/"), u.Query())
		units += cu
		writes += cw
	}
	return units, writes, true
}

// The request costs each step type declares (steps.Costed), by the rules
// of requestCost for the requests it sends on its common path: a user is
// read with GET /users/{id}?$select=... (1 unit), a write is one PATCH,
// POST or DELETE (1 unit, 1 write).
var (
	readOne  = steps.Cost{Requests: 1, Units: 1}
	writeOne = steps.Cost{Requests: 1, Units: 1, Writes: 1}
)

// bulkCost is at most what observeUsers spends on n instances: their ids
// or UPNs go maxInValues to a filtered GET /users with $select (1 unit
// each: GET users costs 2, less 1 for $select), and one GET /users/$count
// first when there is more than one such request. A listing of the whole
// tenant, chosen when it takes fewer requests, costs less.
func bulkCost(n int) steps.Cost {
	filters := int64((n + maxInValues - 1) / maxInValues)
	if filters > 1 {
		filters++
	}
	return steps.Cost{Requests: filters, Units: filters}
}

func (userData) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceGraph, Observe: readOne}
}

// entra_users lists users: one page of up to 999 per request.
func (usersData) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceGraph, Observe: readOne}
}

// entra_tenant reads the organization (its domains with it) and its
// onPremisesDirectorySynchronization features.
func (tenantData) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceGraph, Observe: readOne.Times(2)}
}

func (dirSyncStep) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceGraph, Observe: readOne.Times(2), Apply: writeOne}
}

func (immutableIDStep) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceGraph, Observe: readOne, Apply: writeOne, Bulk: bulkCost}
}

func (userStateStep) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceGraph, Observe: readOne, Bulk: bulkCost}
}

// entra_user_restored reads the active user, and the recycle bin when it
// is not there.
func (restoreStep) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceGraph, Observe: readOne.Times(2), Apply: writeOne}
}

func (purgeStep) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceGraph, Observe: readOne, Apply: writeOne}
}

func (deleteStep) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceGraph, Observe: readOne, Apply: writeOne}
}

func (reprovisionStep) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceGraph, Observe: readOne, Apply: writeOne}
}

func (roleAssignmentsData) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceGraph, Observe: readOne}
}
