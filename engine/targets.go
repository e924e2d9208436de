package engine

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/engine/environment"
	"github.com/rebind-dev/rebind/engine/runbook"
	"github.com/rebind-dev/rebind/steps"
)

type openTarget struct {
	decl *runbook.Target
	typ  steps.TargetType
	// body is the runbook's block merged with the environment's (see
	// bindEnvironment); env is the environment's block, nil when none.
	body   hcl.Body
	env    *environment.Target
	config cty.Value
	// shown is config as a plan may show it: sensitive settings, by
	// schema or by mark, replaced.
	shown  cty.Value
	once   sync.Once
	client any
	err    error
}

// checkTargetRef verifies `target = target.TYPE.NAME` against the step
// type's needs.
func (s *session) checkTargetRef(st *runbook.Step, info steps.Info) hcl.Diagnostics {
	if info.Target == "" {
		if st.Target != nil {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Unexpected target",
				Detail:   fmt.Sprintf("Step type %q does not use a target.", st.Type),
				Subject:  st.Target.SourceRange().Ptr(),
			}}
		}
		return nil
	}
	if st.Target == nil {
		// One target of the needed type is used implicitly.
		var found []*runbook.Target
		for _, t := range s.rb.Targets {
			if t.Type == info.Target {
				found = append(found, t)
			}
		}
		if len(found) == 1 {
			return nil
		}
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Missing target",
			Detail:   fmt.Sprintf("%s needs a target of type %q; the runbook declares %d. Add `target = target.%s.NAME`.", st.Address(), info.Target, len(found), info.Target),
			Subject:  st.DeclRange.Ptr(),
		}}
	}
	addr := refAddr(st.Target)
	parts := strings.Split(addr, ".")
	if len(parts) != 3 || parts[0] != "target" {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Invalid target reference",
			Detail:  "The target argument must be a reference such as target.ad.corp.",
			Subject: st.Target.SourceRange().Ptr(),
		}}
	}
	if parts[1] != info.Target {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError, Summary: "Wrong target type",
			Detail:  fmt.Sprintf("Step type %q needs a target of type %q, not %q.", st.Type, info.Target, parts[1]),
			Subject: st.Target.SourceRange().Ptr(),
		}}
	}
	for _, t := range s.rb.Targets {
		if t.Type == parts[1] && t.Name == parts[2] {
			return nil
		}
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError, Summary: "Undeclared target",
		Detail:  fmt.Sprintf("No target %q %q is declared in this runbook.", parts[1], parts[2]),
		Subject: st.Target.SourceRange().Ptr(),
	}}
}

// targetFor returns the opened target a step uses.
func (s *session) targetFor(ctx context.Context, st *runbook.Step, info steps.Info) (any, error) {
	if info.Target == "" {
		return nil, nil
	}
	var key string
	if st.Target != nil {
		key = strings.TrimPrefix(refAddr(st.Target), "target.")
	} else {
		for _, t := range s.rb.Targets {
			if t.Type == info.Target {
				key = t.Type + "." + t.Name
			}
		}
	}
	ot := s.tgts[key]
	if ot == nil {
		return nil, fmt.Errorf("engine: %s: target %s is not declared", st.Address(), key)
	}
	ot.once.Do(func() {
		getenv := s.e.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		ot.client, ot.err = ot.typ.Open(ctx, steps.TargetConfig{
			Name: ot.decl.Name, Config: ot.config, Getenv: getenv,
		})
		if ot.err != nil {
			ot.err = fmt.Errorf("target %s.%s: %w", ot.decl.Type, ot.decl.Name, ot.err)
		}
	})
	return ot.client, ot.err
}

// close closes every target that was opened and can be closed. A target
// whose Open failed is not closed: what it returned with its error is not
// a connection.
func (s *session) close() {
	for _, ot := range s.tgts {
		if ot.err != nil || ot.client == nil {
			continue
		}
		if c, ok := ot.client.(interface{ Close() error }); ok {
			_ = c.Close()
		}
	}
}
