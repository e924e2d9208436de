// Package mapkeys walks two maps side by side in a fixed order: the plan
// renderings, the saved-plan comparison, drift, environment differences
// and the lab's state diff each compare a "before" map with an "after"
// one, and list what they find sorted, so their output does not depend on
// Go's map iteration order. It imports nothing of rebind.
package mapkeys

import (
	"cmp"
	"slices"
)

// Union returns the keys of a and b, each once, in ascending order.
func Union[M ~map[K]V, K cmp.Ordered, V any](a, b M) []K {
	keys := make([]K, 0, max(len(a), len(b)))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
