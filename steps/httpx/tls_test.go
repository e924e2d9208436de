package httpx

import "testing"

// TestRequireHTTPS: an https:// URL with a host passes; plain http, no
// scheme, no host or an unparsable URL is refused with the setting and
// value named.
func TestRequireHTTPS(t *testing.T) {
	for _, ok := range []string{"https://graph.microsoft.com", "https://127.0.0.1:8443/", "https://outlook.office365.com/adminapi"} {
		if err := RequireHTTPS("graph_url", ok); err != nil {
			t.Errorf("RequireHTTPS(%q) = %v, want nil", ok, err)
		}
	}
	for raw, want := range map[string]string{
		"http://graph.microsoft.com": `graph_url "http://graph.microsoft.com" must be an https:// URL`,
		"graph.microsoft.com":        `graph_url "graph.microsoft.com" must be an https:// URL`,
		"https:///v1.0":              `graph_url "https:///v1.0" must be an https:// URL`,
		"https://[::1":               `graph_url "https://[::1" must be an https:// URL`,
		"":                           `graph_url "" must be an https:// URL`,
	} {
		if err := RequireHTTPS("graph_url", raw); err == nil || err.Error() != want {
			t.Errorf("RequireHTTPS(%q) = %v, want %q", raw, err, want)
		}
	}
}
