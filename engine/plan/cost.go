package plan

import (
	"fmt"
	"strings"
	"time"
)

// Cost is what apply will spend of each directory service, as the step
// types declare their requests (steps.Costed), and how long that takes
// under each target's documented budget. Apply plans again (its drift
// check) and then observes and writes each instance that changes, so the
// figures count both. It is part of the plan's digest.
type Cost struct {
	// Services are per target, in the order of the plan's targets.
	Services []ServiceCost `json:"services"`
	// Undeclared names the step types that reach a target but declare no
	// request costs; their requests are not counted.
	Undeclared []string `json:"undeclared,omitempty"`
}

// ServiceCost is what apply spends through one target.
type ServiceCost struct {
	// Service is graph, exchange, ldap or sync.
	Service string `json:"service"`
	// Target is the target's TYPE.NAME.
	Target string `json:"target"`
	// Requests is at most the requests sent (writes that share a JSON
	// batch, and bulk reads that list the tenant, send fewer). Units
	// and Writes are the resource units and writes the service's
	// throttling meters, for services that meter them.
	Requests int64 `json:"requests"`
	Units    int64 `json:"units,omitempty"`
	Writes   int64 `json:"writes,omitempty"`
	// Budget is the target's documented budget, nil when the service
	// documents none (then apply does not pace, and Seconds is 0).
	Budget *Budget `json:"budget,omitempty"`
	// Seconds is how long apply takes at least, paced under Budget.
	Seconds int64 `json:"seconds,omitempty"`
	// Open counts the instances whose requests cannot be known at plan
	// time (awaited until so, decided at apply): each is counted once.
	Open int `json:"open,omitempty"`
}

// Budget is a target's budget as the plan records it.
type Budget struct {
	Tier string `json:"tier,omitempty"`
	// Units per UnitWindowSeconds; Writes per WriteWindowSeconds.
	Units              int64  `json:"units,omitempty"`
	UnitWindowSeconds  int64  `json:"unit_window_seconds,omitempty"`
	Writes             int64  `json:"writes,omitempty"`
	WriteWindowSeconds int64  `json:"write_window_seconds,omitempty"`
	Source             string `json:"source,omitempty"`
}

// serviceNames are how renderings name the services.
var serviceNames = map[string]string{
	"graph": "Microsoft Graph", "exchange": "Exchange admin API", "ldap": "LDAP", "sync": "Connect sync",
}

// CostLines is the plan's cost as renderings show it, one line per
// target, then a line for undeclared types; nil when the plan records
// none.
func CostLines(c *Cost) []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, s := range c.Services {
		name := serviceNames[s.Service]
		if name == "" {
			name = s.Service
		}
		line := fmt.Sprintf("%s (%s): at most %s requests", name, s.Target, count64(s.Requests))
		if s.Units > 0 || s.Writes > 0 {
			line += fmt.Sprintf(", %s resource units, %s writes", count64(s.Units), count64(s.Writes))
		}
		if b := s.Budget; b != nil {
			var lim []string
			if b.Units > 0 {
				lim = append(lim, fmt.Sprintf("%s units per %ds", count64(b.Units), b.UnitWindowSeconds))
			}
			if b.Writes > 0 {
				lim = append(lim, fmt.Sprintf("%s writes per %ds", count64(b.Writes), b.WriteWindowSeconds))
			}
			tier := ""
			if b.Tier != "" {
				tier = b.Tier + " tier, "
			}
			line += fmt.Sprintf("; about %s paced under the %s%s", (time.Duration(s.Seconds) * time.Second).String(), tier, strings.Join(lim, " and "))
		} else {
			line += "; no documented budget, not paced"
		}
		switch {
		case s.Open == 1:
			line += "; 1 instance waited for or decided at apply, counted once"
		case s.Open > 1:
			line += fmt.Sprintf("; %s instances waited for or decided at apply, counted once each", count(s.Open))
		}
		out = append(out, line)
	}
	if len(c.Undeclared) > 0 {
		out = append(out, "Not counted (the step types declare no request costs): "+strings.Join(c.Undeclared, ", "))
	}
	return out
}

func count64(n int64) string { return count(int(n)) }
