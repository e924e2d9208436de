package entra

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/steps"
)

// maxInValues is how many values one `in` clause of $filter may hold
// outside an advanced query: "The maximum number of expressions in a filter
// clause when using the in operator is 15 items by default" (Use the $filter
// query parameter, https://learn.microsoft.com/graph/filter-query-parameter,
// and its known issue, https://learn.microsoft.com/graph/known-issues?search=13635;
// a 16th is refused with "Too many child clauses ... Max allowed: 15").
// The user resource lists `in` among the $filter operators of both id and
// userPrincipalName (https://learn.microsoft.com/graph/api/resources/user#properties).
const maxInValues = 15

// maxPage is the largest page of users Graph serves: $top "1 and 999
// inclusive" (List users, https://learn.microsoft.com/graph/api/user-list,
// "Optional query parameters"; DOMAIN.md).
const maxPage = 999

// found holds the active users a bulk read found, by lower-case id and UPN.
type found struct {
	byID, byUPN map[string]user
}

func (f found) lookup(s selector) (user, bool) {
	if s.ID != "" {
		u, ok := f.byID[lower(s.ID)]
		return u, ok
	}
	u, ok := f.byUPN[lower(s.UPN)]
	return u, ok
}

func (f *found) add(u user) {
	f.byID[lower(u.ID)] = u
	f.byUPN[lower(u.UPN)] = u
}

// bulkUsers reads the active users sels name in as few requests as Graph
// allows, and says how: "list" when one paged listing of every user (with
// $select and $top=999) costs fewer requests than the filters would, as
// when the fan-out covers much of the tenant; "filter" when the selectors
// go 15 to an `id in (...)` or `userPrincipalName in (...)` clause, those
// requests sent 20 to a JSON batch when the target batches
// (https://learn.microsoft.com/graph/json-batching: "up to 20 individual
// requests"). A selector that is not found is left out; the caller reads
// it on its own (a deleted user, or one that does not exist).
func (c *Client) bulkUsers(ctx context.Context, sels []selector) (found, string, error) {
	f := found{byID: map[string]user{}, byUPN: map[string]user{}}
	var ids, upns []string
	seen := map[string]bool{}
	for _, s := range sels {
		switch {
		case s.ID != "":
			// Only a GUID can be compared with id; anything else is read
			// on its own, as GET /users/{id | userPrincipalName} reads it.
			if _, err := anchor.ParseGUID(s.ID); err == nil && !seen["id:"+lower(s.ID)] {
				seen["id:"+lower(s.ID)] = true
				ids = append(ids, lower(s.ID))
			}
		case s.UPN != "" && !seen["upn:"+lower(s.UPN)]:
			seen["upn:"+lower(s.UPN)] = true
			upns = append(upns, s.UPN)
		}
	}
	filters := chunkFilters("id", ids)
	filters = append(filters, chunkFilters("userPrincipalName", upns)...)
	if len(filters) == 0 {
		return f, "none", nil
	}
	filterRequests := len(filters)
	if c.batch != nil {
		filterRequests = (len(filters) + maxBatch - 1) / maxBatch
	}
	if filterRequests > 1 {
		// Listing every user may cost less: count them first (one
		// request). A directory that cannot count is filtered.
		if n, err := c.userCount(ctx); err == nil && (n+maxPage-1)/maxPage < filterRequests {
			list, err := c.listUsers(ctx, "", false, 0)
			if err != nil {
				return f, "list", err
			}
			for _, u := range list {
				f.add(u)
			}
			return f, "list", nil
		}
	}
	var err error
	if c.batch != nil {
		err = c.filterBatched(ctx, filters, &f)
	} else {
		for _, flt := range filters {
			var list []user
			if list, err = c.listUsers(ctx, flt, false, 0); err != nil {
				break
			}
			for _, u := range list {
				f.add(u)
			}
		}
	}
	return f, "filter", err
}

// chunkFilters writes `property in ('a','b',...)` clauses of at most
// maxInValues values each.
func chunkFilters(property string, vals []string) []string {
	var out []string
	for len(vals) > 0 {
		n := min(len(vals), maxInValues)
		q := make([]string, n)
		for i, v := range vals[:n] {
			q[i] = "'" + odataQuote(v) + "'"
		}
		out = append(out, property+" in ("+strings.Join(q, ",")+")")
		vals = vals[n:]
	}
	return out
}

// userCount reads GET /users/$count, which needs the ConsistencyLevel:
// eventual header ("Counting directory objects is only supported using the
// advanced queries parameters",
// https://learn.microsoft.com/graph/aad-advanced-queries).
func (c *Client) userCount(ctx context.Context) (int, error) {
	h := abs.NewRequestHeaders()
	h.Add("ConsistencyLevel", "eventual")
	n, err := c.graph.Users().Count().Get(ctx, &users.CountRequestBuilderGetRequestConfiguration{Headers: h})
	if err != nil {
		return 0, wrap(err, "count users")
	}
	if n == nil {
		return 0, fmt.Errorf("entra: count users: no number in the answer")
	}
	return int(*n), nil
}

// filterBatched sends the filtered reads 20 to a JSON batch. Items
// answered 429, 503 or 504 inside a batch (which the SDK's retry handler
// does not see) are sent again after the longest Retry-After among them,
// at most maxItemAttempts times; any other failure ends the read.
func (c *Client) filterBatched(ctx context.Context, filters []string, f *found) error {
	var urls []string
	for _, flt := range filters {
		q := url.Values{}
		q.Set("$select", strings.Join(userSelect, ","))
		q.Set("$filter", flt)
		urls = append(urls, "/users?"+q.Encode())
	}
	attempts := map[string]int{}
	for len(urls) > 0 {
		n := min(len(urls), maxBatch)
		retry, wait, err := c.batchGet(ctx, urls[:n], f)
		if err != nil {
			return err
		}
		urls = urls[n:]
		if len(retry) == 0 {
			continue
		}
		for _, u := range retry {
			if attempts[u]++; attempts[u] >= maxItemAttempts {
				return fmt.Errorf("entra: read users in a batch: throttled %d times", attempts[u])
			}
		}
		if wait == 0 {
			wait = time.Second
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		urls = append(retry, urls...)
	}
	return nil
}

// batchGet posts up to 20 GETs as one JSON batch and adds the users their
// answers hold. It returns the requests to send again (throttled) and how
// long to wait first.
func (c *Client) batchGet(ctx context.Context, urls []string, f *found) ([]string, time.Duration, error) {
	req := struct {
		Requests []batchRequest `json:"requests"`
	}{}
	for i, u := range urls {
		req.Requests = append(req.Requests, batchRequest{ID: strconv.Itoa(i + 1), Method: "GET", URL: u})
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, 0, fmt.Errorf("entra: encode a batch: %w", err)
	}
	raw, err := c.rawJSON(ctx, abs.POST, "/$batch", body)
	if err != nil {
		return nil, 0, wrap(err, "read users in a batch")
	}
	byID, err := batchResponses(raw)
	if err != nil {
		return nil, 0, err
	}
	var retry []string
	var wait time.Duration
	for i, u := range urls {
		r, ok := byID[strconv.Itoa(i+1)]
		switch {
		case !ok:
			return nil, 0, fmt.Errorf("entra: the batch answer has no response for GET %s", u)
		case r.Status == http.StatusTooManyRequests || r.Status == http.StatusServiceUnavailable || r.Status == http.StatusGatewayTimeout:
			retry = append(retry, u)
			wait = max(wait, itemError(r).RetryAfter)
			continue
		case r.Status < 200 || r.Status > 299:
			return nil, 0, fmt.Errorf("entra: read users (GET %s): %w", u, itemError(r))
		}
		if err := c.addPage(ctx, r.Body, f); err != nil {
			return nil, 0, err
		}
	}
	if len(retry) > 0 {
		c.pacer.Throttled(wait) // see batcher.sendOnce
	}
	return retry, wait, nil
}

// addPage decodes one answer of GET /users with the SDK's model and adds
// its users, following @odata.nextLink when Graph pages it.
func (c *Client) addPage(ctx context.Context, body []byte, f *found) error {
	p, err := absser.Deserialize("application/json", body, models.CreateUserCollectionResponseFromDiscriminatorValue)
	if err != nil {
		return fmt.Errorf("entra: read a batch answer: %w", err)
	}
	resp, ok := p.(models.UserCollectionResponseable)
	if !ok {
		return fmt.Errorf("entra: read a batch answer: not a collection of users")
	}
	for {
		for _, m := range resp.GetValue() {
			f.add(decodeUser(m))
		}
		next := resp.GetOdataNextLink()
		if next == nil || *next == "" {
			return nil
		}
		if resp, err = c.graph.Users().WithUrl(*next).Get(ctx, nil); err != nil {
			return wrap(err, "list users")
		}
	}
}

// observeUsers is ObserveMany for the user step types: the users the calls
// name are read in bulk; seen renders one the read found, and each call
// whose user it did not find (deleted, not there yet, or named by an id
// that is not a GUID) is observed on its own by single.
func observeUsers(ctx context.Context, calls []steps.Call,
	seen func(steps.Call, user) steps.Observation,
	single func(context.Context, steps.Call) (steps.Observation, error)) ([]steps.BulkResult, error) {
	c, sels, out, err := steps.BulkCalls[*Client](calls, "entra", selectorFrom)
	if err != nil || c == nil {
		return out, err
	}
	var valid []selector
	for i := range calls {
		if out[i].Err == nil {
			valid = append(valid, sels[i])
		}
	}
	f, _, err := c.bulkUsers(ctx, valid)
	if err != nil {
		return nil, err
	}
	for i, call := range calls {
		if out[i].Err != nil {
			continue
		}
		if u, ok := f.lookup(sels[i]); ok {
			out[i].Observation = seen(call, u)
			continue
		}
		out[i].Observation, out[i].Err = single(ctx, call)
	}
	return out, nil
}

// ObserveMany reads the users of a fan-out in bulk (steps.BulkObserver).
// What it reads of an active user is what Observe reads; a user it does not
// find among the active ones (one in the recycle bin) is observed alone.
func (immutableIDStep) ObserveMany(ctx context.Context, calls []steps.Call) ([]steps.BulkResult, error) {
	return observeUsers(ctx, calls, func(_ steps.Call, u user) steps.Observation {
		return steps.Observation{Object: userObject(u.ID), Value: userValue(u, time.Time{})}
	}, immutableIDStep{}.Observe)
}

// ObserveMany reads the users of a fan-out in bulk (steps.BulkObserver);
// one not found among the active users is observed alone, which looks for
// it in the recycle bin.
func (userStateStep) ObserveMany(ctx context.Context, calls []steps.Call) ([]steps.BulkResult, error) {
	return observeUsers(ctx, calls, func(_ steps.Call, u user) steps.Observation {
		return steps.Observation{
			Object: userObject(u.ID),
			Value:  cty.ObjectVal(map[string]cty.Value{"exists": cty.True, "user": userValue(u, time.Time{})}),
		}
	}, userStateStep{}.Observe)
}
