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
	if st.Timeout == nil {
		diags = append(diags, s.checkTimeoutWith(st)...)
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

// checkTimeoutWith requires a timeout on a step that sets an argument its
// type lists in TimeoutWith (wait's until).
func (s *session) checkTimeoutWith(st *runbook.Step) hcl.Diagnostics {
	t, ok := s.types[st.Type]
	if !ok {
		return nil
	}
	info := t.Info()
	if len(info.TimeoutWith) == 0 || st.Config == nil {
		return nil
	}
	schema := &hcl.BodySchema{}
	for _, name := range info.TimeoutWith {
		schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: name})
	}
	content, _, _ := st.Config.PartialContent(schema)
	if content == nil {
		return nil
	}
	var diags hcl.Diagnostics
	for _, name := range info.TimeoutWith {
		a, ok := content.Attributes[name]
		if !ok {
			continue
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing timeout",
			Detail: fmt.Sprintf("%s sets %s, so it waits for something outside rebind; give the step a timeout (such as timeout = \"1h\") so that a condition that never holds cannot hold the run forever.",
				st.Address(), name),
			Subject: a.Expr.Range().Ptr(),
		})
	}
	return diags
}
