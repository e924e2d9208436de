package mapkeys

import (
	"slices"
	"testing"
)

// Keys in both maps come once; keys in one map only are kept; the result
// is sorted whatever order the maps are walked in; nil maps are empty.
func TestUnion(t *testing.T) {
	for _, c := range []struct {
		name string
		a, b map[string]int
		want []string
	}{
		{"both nil", nil, nil, []string{}},
		{"a only", map[string]int{"b": 1, "a": 2}, nil, []string{"a", "b"}},
		{"b only", nil, map[string]int{"z": 1, "y": 2}, []string{"y", "z"}},
		{"overlap", map[string]int{"m": 1, "c": 2, "x": 3}, map[string]int{"x": 9, "a": 8, "m": 7}, []string{"a", "c", "m", "x"}},
		{"values ignored", map[string]int{"k": 1}, map[string]int{"k": 2}, []string{"k"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Union(c.a, c.b); !slices.Equal(got, c.want) {
				t.Errorf("Union(%v, %v) = %q, want %q", c.a, c.b, got, c.want)
			}
		})
	}
}
