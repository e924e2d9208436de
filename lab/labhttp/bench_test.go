package labhttp_test

import (
	"encoding/json"
	"net/http"
	"runtime"
	"testing"

	"github.com/rebind-dev/rebind/lab/labhttp"
)

// BenchmarkGraphPage100k loads the 100,000-user scenario and pages through
// GET /v1.0/users?$top=999 over a loopback listener, following
// @odata.nextLink to the end. It reports the pages per listing and the
// heap the loaded tenant keeps.
func BenchmarkGraphPage100k(b *testing.B) {
	tn := load(b, "healthy-100k")
	srv := labServer(b, tn, labhttp.ServerOptions{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		next, users, pages := srv.URL+"/v1.0/users?$top=999", 0, 0
		for next != "" {
			resp, err := http.Get(next)
			if err != nil {
				b.Fatal(err)
			}
			var p struct {
				Value    []json.RawMessage `json:"value"`
				NextLink string            `json:"@odata.nextLink"`
			}
			err = json.NewDecoder(resp.Body).Decode(&p)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("page %d: %d %v", pages, resp.StatusCode, err)
			}
			users, pages, next = users+len(p.Value), pages+1, p.NextLink
		}
		if users != 100000 {
			b.Fatalf("listed %d users, want 100000", users)
		}
		b.ReportMetric(float64(pages), "pages")
	}
	b.StopTimer()
	b.ReportMetric(heapMB(), "heap-MB")
}

// heapMB returns the live heap after a collection, in MB.
func heapMB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}
