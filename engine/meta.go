package engine

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/rebind-dev/rebind/engine/lang"
	"github.com/rebind-dev/rebind/engine/runbook"
)

// checkMeta checks a step's meta-arguments (timeout, await, retry,
// max_errors, max_concurrency) wherever their values are known, so that a
// mistake in one is reported by validate and plan, not by apply after
// earlier steps have written. Values that depend on earlier steps are
// checked at apply.
func (s *session) checkMeta(st *runbook.Step) hcl.Diagnostics {
	var diags hcl.Diagnostics
	ctx := s.sc.ctx()
	known := func(e hcl.Expression) bool {
		if e == nil {
			return false
		}
		v, d := e.Value(ctx)
		return !d.HasErrors() && v.IsWhollyKnown()
	}
	if known(st.Timeout) {
		if d, dd := lang.ParseDuration(ctx, st.Timeout, "timeout"); !dd.HasErrors() && d <= 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid timeout",
				Detail: "timeout must be longer than zero.", Subject: st.Timeout.Range().Ptr()})
		} else {
			diags = append(diags, dd...)
		}
	}
	if known(st.Await) {
		if d, dd := lang.ParseDuration(ctx, st.Await, "await"); !dd.HasErrors() && d <= 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid await",
				Detail: "await must be longer than zero: it is how long to wait for the object to become so.", Subject: st.Await.Range().Ptr()})
		} else {
			diags = append(diags, dd...)
		}
	}
	if st.Retry != nil && (st.Retry.Attempts == nil || known(st.Retry.Attempts)) && (st.Retry.Backoff == nil || known(st.Retry.Backoff)) {
		_, d := s.retryPolicy(st)
		diags = append(diags, d...)
	}
	if known(st.MaxErrors) {
		_, _, d := lang.ParseMaxErrors(ctx, st.MaxErrors)
		diags = append(diags, d...)
	}
	if known(st.MaxConcurrency) {
		if _, err := s.maxConcurrency(st); err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid max_concurrency",
				Detail: err.Error(), Subject: st.MaxConcurrency.Range().Ptr()})
		}
	}
	return diags
}

// maxConcurrency evaluates max_concurrency: a whole number from 1 to 1000.
func (s *session) maxConcurrency(st *runbook.Step) (int, error) {
	v, d := st.MaxConcurrency.Value(s.sc.ctx())
	if d.HasErrors() {
		return 0, fmt.Errorf("%s", diagText(d))
	}
	v, _ = v.UnmarkDeep()
	if !v.IsKnown() || v.IsNull() || v.Type().FriendlyName() != "number" {
		return 0, fmt.Errorf("max_concurrency must be a whole number from 1 to 1000")
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if !bf.IsInt() || acc != 0 || n < 1 || n > 1000 {
		return 0, fmt.Errorf("max_concurrency must be a whole number from 1 to 1000, not %s", bf.Text('g', -1))
	}
	return int(n), nil
}
