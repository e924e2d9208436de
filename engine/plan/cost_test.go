package plan

import (
	"bytes"
	"strings"
	"testing"
)

// TestRenderingsStateTheCost: text, Markdown and HTML say what apply will
// spend, per target, and the digest covers it.
func TestRenderingsStateTheCost(t *testing.T) {
	p := samplePlan()
	before := p.Digest()
	p.Cost = &Cost{
		Services: []ServiceCost{
			{Service: "graph", Target: "entra.tenant", Requests: 20670, Units: 20670, Writes: 10000, Seconds: 520,
				Budget: &Budget{Tier: "small", Units: 3500, UnitWindowSeconds: 10, Writes: 3000, WriteWindowSeconds: 150}},
			{Service: "ldap", Target: "ad.corp", Requests: 4, Open: 2},
		},
		Undeclared: []string{"test_type"},
	}
	if p.Digest() == before {
		t.Fatal("the digest does not cover the cost")
	}
	want := []string{
		"Microsoft Graph (entra.tenant): at most 20,670 requests, 20,670 resource units, 10,000 writes; about 8m40s paced under the small tier, 3,500 units per 10s and 3,000 writes per 150s",
		"LDAP (ad.corp): at most 4 requests; no documented budget, not paced; 2 instances waited for or decided at apply, counted once each",
		"Not counted (the step types declare no request costs): test_type",
	}
	render := map[string]func(*bytes.Buffer) error{
		"text":     func(b *bytes.Buffer) error { return RenderText(b, p, TextOptions{}) },
		"markdown": func(b *bytes.Buffer) error { return RenderMarkdown(b, p, RenderOptions{}) },
		"html":     func(b *bytes.Buffer) error { return RenderHTML(b, p, RenderOptions{}) },
	}
	for name, r := range render {
		var b bytes.Buffer
		if err := r(&b); err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if name == "markdown" {
				w = mdText(w) // test\_type
			}
			if !strings.Contains(b.String(), w) {
				t.Errorf("the %s rendering does not say %q", name, w)
			}
		}
	}
}
