package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/lang"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/steps"
)

// retryPolicy is a step's `retry {}`: the number of attempts and the first
// backoff, doubled each time. Permanent errors are never retried; a
// Retry-After hint lengthens the wait.
type retryPolicy struct {
	attempts int
	backoff  time.Duration
	// throttled, when set, is told of every answer that asked to wait
	// (a steps.RetryAfterError), retried or not.
	throttled func(after time.Duration)
}

func (s *session) retryPolicy(st *runbook.Step) (retryPolicy, hcl.Diagnostics) {
	p := retryPolicy{attempts: 1, backoff: time.Second}
	if st.Retry == nil {
		return p, nil
	}
	var diags hcl.Diagnostics
	if st.Retry.Attempts != nil {
		v, d := st.Retry.Attempts.Value(s.sc.ctx())
		diags = append(diags, d...)
		if !d.HasErrors() {
			v, _ = v.Unmark()
			var n int
			if v.IsKnown() && !v.IsNull() && v.Type() == cty.Number && v.AsBigFloat().IsInt() {
				i, _ := v.AsBigFloat().Int64()
				n = int(i)
			}
			if n < 1 || n > 100 {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid retry attempts",
					Detail: "retry.attempts must be a whole number from 1 to 100 (the first try included).", Subject: st.Retry.Attempts.Range().Ptr()})
			} else {
				p.attempts = n
			}
		}
	}
	if st.Retry.Backoff != nil {
		d, dd := lang.ParseDuration(s.sc.ctx(), st.Retry.Backoff, "retry.backoff")
		diags = append(diags, dd...)
		if !dd.HasErrors() {
			p.backoff = d
		}
	}
	return p, diags
}

// do runs fn until it succeeds, fails permanently, or attempts run out.
func (p retryPolicy) do(ctx context.Context, fn func(context.Context) error) error {
	wait := p.backoff
	var err error
	for i := 0; i < p.attempts; i++ {
		err = fn(ctx)
		var ra *steps.RetryAfterError
		if errors.As(err, &ra) && p.throttled != nil {
			p.throttled(ra.After)
		}
		if err == nil || steps.IsPermanent(err) || errors.Is(err, steps.ErrPaused) {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		if i == p.attempts-1 {
			break
		}
		d := wait
		if ra != nil && ra.After > d {
			d = ra.After
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
	if p.attempts > 1 {
		return fmt.Errorf("after %d attempts: %w", p.attempts, err)
	}
	return err
}
