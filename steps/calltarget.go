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
