package steps

import (
	"fmt"
	"strings"
)

// TargetOf returns the call's target as T, the client that target type
// typ's Open returns. A call whose target is something else, or nil, gets
// an error naming the step, the target type it needs and what it got: a
// runbook cannot cause it (the engine opens the target the step's Info
// names), a program that builds calls by hand can.
func TargetOf[T comparable](call Call, typ string) (T, error) {
	var zero T
	t, ok := call.Target.(T)
	if !ok || t == zero {
		article := "a"
		if typ != "" && strings.ContainsRune("aeiou", rune(typ[0])) {
			article = "an"
		}
		return zero, fmt.Errorf("%s: %s: the target is not %s %s target (got %T)", typ, call.Address, article, typ, call.Target)
	}
	return t, nil
}

// BulkCalls is how a BulkObserver's ObserveMany starts: the client of
// target type typ that the calls share (each call's as TargetOf returns
// it), each call's argument as arg reads it (the user, object or identity
// it names), and one BulkResult per call, in which a call whose argument
// arg refused already holds that error, to be skipped, the others zero, to
// be filled. No calls give the zero client and no error. A first call
// without such a client gets TargetOf's error, and a later call whose
// client is another (the engine hands ObserveMany the instances of one
// fan-out, which share a target) an error naming that call.
func BulkCalls[T comparable, A any](calls []Call, typ string, arg func(Call) (A, error)) (T, []A, []BulkResult, error) {
	var zero T
	out := make([]BulkResult, len(calls))
	args := make([]A, len(calls))
	if len(calls) == 0 {
		return zero, args, out, nil
	}
	c, err := TargetOf[T](calls[0], typ)
	if err != nil {
		return zero, nil, nil, err
	}
	for i, call := range calls {
		if cc, _ := TargetOf[T](call, typ); cc != c {
			return zero, nil, nil, fmt.Errorf("%s: %s: the instances of one fan-out use different targets", typ, call.Address)
		}
		if args[i], err = arg(call); err != nil {
			out[i].Err = err
		}
	}
	return c, args, out, nil
}
