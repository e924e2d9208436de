package adsync

import "github.com/rebind-dev/rebind/steps"

// The requests to the sync engine each step type declares it spends
// (steps.Costed): a cmdlet through the Connect server's shell, or a call of
// the Cloud Sync job API. No budget is documented for either; the target is
// not paced.

// adsync_cycle observes nothing remote and starts one cycle; the polls
// that wait for it to end depend on how long it runs and are not counted.
func (cycleStep) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceSync, Apply: steps.Cost{Requests: 1}}
}

// adsync_scheduler reads the scheduler and sets it.
func (schedulerStep) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceSync, Observe: steps.Cost{Requests: 1}, Apply: steps.Cost{Requests: 1}}
}
