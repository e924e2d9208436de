package engine

import "context"

// runContext is the steps.RunContext handed to step types.
type runContext struct {
	s *session
}

func (r *runContext) ID() string { return r.s.runID }

func (r *runContext) Dir() string { return r.s.dir }

func (r *runContext) StepApproval(ctx context.Context, address string) (bool, string, error) {
	if r.s.e.Store == nil || r.s.runID == "" {
		return false, "", nil
	}
	return r.s.e.Store.StepApproval(ctx, r.s.runID, address)
}
