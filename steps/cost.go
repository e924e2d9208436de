package steps

import "time"

// Services whose requests a plan counts. A step type's RequestCosts name
// one of them.
const (
	ServiceGraph    = "graph"
	ServiceExchange = "exchange"
	ServiceLDAP     = "ldap"
	ServiceSync     = "sync"
)

// Cost is what some requests spend of one service: the requests sent, and,
// where the service meters them, the resource units and the writes its
// throttling counts.
type Cost struct {
	Requests int64 `json:"requests"`
	Units    int64 `json:"units,omitempty"`
	Writes   int64 `json:"writes,omitempty"`
}

// Add returns c + d.
func (c Cost) Add(d Cost) Cost {
	return Cost{Requests: c.Requests + d.Requests, Units: c.Units + d.Units, Writes: c.Writes + d.Writes}
}

// Times returns c spent n times.
func (c Cost) Times(n int64) Cost {
	return Cost{Requests: c.Requests * n, Units: c.Units * n, Writes: c.Writes * n}
}

// RequestCosts is what a step type declares it spends of its service.
type RequestCosts struct {
	// Service is one of the Service constants.
	Service string
	// Observe is one Observe of one instance (the read apply makes again
	// just before it writes).
	Observe Cost
	// Apply is one Apply of an instance that changes something: the
	// writes and the reads it makes itself, not the Observe before it.
	Apply Cost
	// Bulk, when set, is at most what BulkObserver.ObserveMany spends on n
	// instances (plan, and apply's drift check, observe a fan-out so).
	Bulk func(n int) Cost
}

// Costed is implemented by step types that declare the requests they
// spend, so that a plan can say what apply will spend and how long it
// takes under the target's budget. A type without it is counted by its
// instances alone, and the plan says its requests are not declared.
type Costed interface {
	RequestCosts() RequestCosts
}

// Budget is the request budget a service grants one client, as the
// service documents it: Units resource units per Window, and Writes
// writes per WriteWindow. Zero fields mean no such limit.
type Budget struct {
	// Service is one of the Service constants.
	Service string `json:"service"`
	// Tier names the documented limit chosen (e.g. Graph's tenant size).
	Tier        string        `json:"tier,omitempty"`
	Units       int64         `json:"units,omitempty"`
	Window      time.Duration `json:"window,omitempty"`
	Writes      int64         `json:"writes,omitempty"`
	WriteWindow time.Duration `json:"write_window,omitempty"`
	// Source is the documentation page the limits come from.
	Source string `json:"source,omitempty"`
}

// BudgetedTarget is implemented by target types whose clients pace their
// requests under a documented budget. Budget reads it from the target's
// settings without opening it; ok is false when the target has none.
type BudgetedTarget interface {
	Budget(cfg TargetConfig) (b Budget, ok bool, err error)
}
