package labhttp_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/rebind-dev/rebind/lab"
	"github.com/rebind-dev/rebind/lab/labhttp"
)

// TestDeletedItemsEndsWithNeedsAdvancedQuery: endswith on userPrincipalName
// is an advanced query: without ConsistencyLevel: eventual and $count=true
// it is refused, with them it filters
// (https://learn.microsoft.com/graph/aad-advanced-queries).
func TestDeletedItemsEndsWithNeedsAdvancedQuery(t *testing.T) {
	tn := load(t, "restore-mistake")
	srv := labServer(t, tn, labhttp.ServerOptions{})
	u := srv.URL + "/v1.0/directory/deletedItems/microsoft.graph.user?$filter=" + url.QueryEscape("endswith(userPrincipalName,'nicki@contoso.com')")
	wantStatus(t, call(t, "GET", u, nil, nil), 400)
	req, _ := http.NewRequest("GET", u+"&$count=true", nil)
	req.Header.Set("ConsistencyLevel", "eventual")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("advanced endswith query: %s", resp.Status)
	}
	del, _ := tn.CloudUsers(lab.CloudQuery{Deleted: true, UPNSuffix: "nicki@contoso.com"})
	if len(del) == 0 {
		t.Fatal("no deleted user ends with nicki@contoso.com")
	}
}
