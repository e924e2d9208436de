package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rebind-dev/rebind/engine/plan"
)

// checkPlan refuses a saved plan that expired or lacks approvals. The
// approvals are verified against the allowed-signers file at
// allowedSignersPath, or REBIND_ALLOWED_SIGNERS when it is empty; a plan
// that needs approvals is refused when neither names a file. A plan that
// needs none is still refused when a file is given and one of its
// signatures does not hold: a plan carrying a bad signature was tampered
// with or mixed up.
func checkPlan(p *plan.Plan, now time.Time, allowedSignersPath string) error {
	if now.After(p.Expires) {
		return fmt.Errorf("the plan expired at %s; make a new one", p.Expires.Format(time.RFC3339))
	}
	allowed, err := loadAllowedSigners(allowedSignersPath)
	if err != nil {
		return err
	}
	need := p.RequiredApprovals()
	if allowed == nil {
		if need > 0 {
			return fmt.Errorf("the plan needs %d approval%s: give --allowed-signers FILE or set REBIND_ALLOWED_SIGNERS so rebind can verify them", need, plural(need))
		}
		return nil
	}
	if _, err := plan.Verify(p, allowed, now); err != nil {
		return &approvalsError{digest: p.Digest(), err: err}
	}
	return nil
}

// approvalsError lists what is wrong with a plan's approvals, one problem
// a line; errors.Is sees each problem's plan sentinel.
type approvalsError struct {
	digest string
	err    error
}

func (e *approvalsError) Error() string {
	return fmt.Sprintf("the plan's approvals do not hold (sha256:%s):\n%s", e.digest, indentErr(e.err))
}

func (e *approvalsError) Unwrap() error { return e.err }

// onlyTooFew reports whether err says nothing but that approvals are
// missing.
func onlyTooFew(err error) bool {
	for _, e := range unjoin(err) {
		if !errors.Is(e, plan.ErrTooFewApprovals) {
			return false
		}
	}
	return true
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// indentErr lists the parts of err one a line, indented.
func indentErr(err error) string {
	var lines []string
	for _, e := range unjoin(err) {
		lines = append(lines, "  "+safe(e.Error()))
	}
	return strings.Join(lines, "\n")
}
