// Package statediff tells what changed between two lab tenant states, object
// by object and attribute by attribute, so that a rehearsal can show an admin
// exactly what a runbook did to AD, Entra ID and Exchange Online.
package statediff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/rebind-dev/rebind/internal/mapkeys"
)

// Change is one object that appeared, disappeared or changed.
type Change struct {
	// Directory is "AD", "Entra ID", "Exchange Online" or "Tenant";
	// Diff returns changes sorted by directory, then object.
	Directory string
	// Object names it the way an admin would (UPN, DN or alias).
	Object string
	// Kind is "added", "removed" or "changed".
	Kind string
	// Attributes lists "name: before -> after" for a changed object.
	Attributes []string
}

// collections maps a state's list fields to how their objects are named.
var collections = []struct {
	field, directory string
	key              []string // identity: the first present field
	name             []string // display: the first present field
}{
	{"ad", "AD", []string{"objectGUID"}, []string{"userPrincipalName", "distinguishedName"}},
	{"users", "Entra ID", []string{"id"}, []string{"userPrincipalName", "id"}},
	{"recipients", "Exchange Online", []string{"ExchangeObjectId", "ExchangeGuid"}, []string{"UserPrincipalName", "PrimarySmtpAddress", "Alias"}},
}

// ignored are bookkeeping fields whose change tells an admin nothing.
var ignored = map[string]bool{"uSNChanged": true, "whenChanged": true, "onPremisesLastSyncDateTime": true}

// Diff compares two states as `rebind lab dump` prints them.
func Diff(before, after []byte) ([]Change, error) {
	var b, a map[string]any
	if err := json.Unmarshal(before, &b); err != nil {
		return nil, fmt.Errorf("statediff: before: %w", err)
	}
	if err := json.Unmarshal(after, &a); err != nil {
		return nil, fmt.Errorf("statediff: after: %w", err)
	}
	var out []Change
	for _, c := range collections {
		out = append(out, diffList(c.directory, c.key, c.name, asList(b[c.field]), asList(a[c.field]))...)
	}
	if attrs := diffObject(asMap(b["organization"]), asMap(a["organization"])); len(attrs) > 0 {
		out = append(out, Change{Directory: "Tenant", Object: "organization", Kind: "changed", Attributes: attrs})
	}
	// Per directory, by name: how an admin looks for an object.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Directory != out[j].Directory {
			return out[i].Directory < out[j].Directory
		}
		return out[i].Object < out[j].Object
	})
	return out, nil
}

func asList(v any) []map[string]any {
	l, _ := v.([]any)
	out := make([]map[string]any, 0, len(l))
	for _, x := range l {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func first(m map[string]any, fields []string) string {
	for _, f := range fields {
		if s, ok := m[f].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func diffList(dir string, key, name []string, before, after []map[string]any) []Change {
	index := func(l []map[string]any) map[string]map[string]any {
		m := map[string]map[string]any{}
		for _, o := range l {
			if k := first(o, key); k != "" {
				m[k] = o
			}
		}
		return m
	}
	bi, ai := index(before), index(after)
	var out []Change
	for _, k := range mapkeys.Union(bi, ai) {
		bo, inB := bi[k]
		ao, inA := ai[k]
		switch {
		case !inB:
			out = append(out, Change{Directory: dir, Object: first(ao, name), Kind: "added"})
		case !inA:
			out = append(out, Change{Directory: dir, Object: first(bo, name), Kind: "removed"})
		default:
			if attrs := diffObject(bo, ao); len(attrs) > 0 {
				out = append(out, Change{Directory: dir, Object: first(ao, name), Kind: "changed", Attributes: attrs})
			}
		}
	}
	return out
}

func diffObject(b, a map[string]any) []string {
	var out []string
	for _, k := range mapkeys.Union(b, a) {
		if ignored[k] {
			continue
		}
		bs, as := show(b[k]), show(a[k])
		if bs != as {
			out = append(out, fmt.Sprintf("%s: %s -> %s", k, bs, as))
		}
	}
	return out
}

func show(v any) string {
	if v == nil {
		return "(none)"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // values are shown to a person, not put in a page
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	s := strings.TrimSpace(buf.String())
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}
