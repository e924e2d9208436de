package ad

import (
	"context"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/steps"
)

// maxOrTerms is how many selectors one bulk search ORs together. Active
// Directory answers at most MaxPageSize entries a page (default 1,000) and
// accepts requests up to MaxReceiveBuffer (default 10,485,760 bytes)
// ("View and set LDAP policy in Active Directory by using Ntdsutil.exe",
// https://learn.microsoft.com/troubleshoot/windows-server/active-directory/view-set-ldap-policy-using-ntdsutil):
// 1,000 terms of a few dozen bytes each stay far below the second, and
// their users fill one page. A variable so that tests can make it small.
var maxOrTerms = 1000

// bulkAttrs are what a bulk search reads besides what the step needs: the
// attributes its results are matched back to their selectors by.
var bulkAttrs = []string{attrObjectGUID, attrUPN, attrSAM}

// observeEntries is ObserveMany for the step types that observe one live
// object each: the objects the calls name by upn, sam_account_name or
// object_guid are read by paged subtree searches whose filters OR up to
// maxOrTerms of them, and each call gets render's observation of its one
// entry. A call whose selector matches no entry or more than one (or that
// names its object by dn) is observed on its own by single, which reports
// "not found" and "ambiguous" as it always has.
func observeEntries(ctx context.Context, calls []steps.Call, attrs func(steps.Call) []string, class func(selector) string,
	render func(steps.Call, *ldap.Entry) (steps.Observation, error),
	single func(context.Context, steps.Call) (steps.Observation, error)) ([]steps.BulkResult, error) {
	d, sels, out, err := steps.BulkCalls[Directory](calls, "ad", selectorFrom)
	if err != nil || len(calls) == 0 {
		return out, err
	}
	want := map[string]bool{}
	// groups holds the distinct selector values by (class, kind).
	type group struct{ class, kind string }
	groups := map[group][]string{}
	seen := map[string]bool{}
	for i, call := range calls {
		if out[i].Err != nil {
			continue
		}
		for _, a := range attrs(call) {
			want[a] = true
		}
		s := sels[i]
		if s.kind == "dn" {
			continue
		}
		g := group{class(s), s.kind}
		if k := g.class + "/" + matchKey(s); !seen[k] {
			seen[k] = true
			groups[g] = append(groups[g], s.filter())
		}
	}
	for _, a := range bulkAttrs {
		want[a] = true
	}
	var attrList []string
	for a := range want {
		attrList = append(attrList, a)
	}
	// found holds the entries each selector matched, by class and key.
	found := map[string][]*ldap.Entry{}
	for g, terms := range groups {
		for len(terms) > 0 {
			n := min(len(terms), maxOrTerms)
			filter := "(&(objectClass=" + g.class + ")(|" + strings.Join(terms[:n], "") + "))"
			terms = terms[n:]
			req := ldap.NewSearchRequest(d.BaseDN(), ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrList, nil)
			res, err := d.SearchWithPaging(req, pageSize)
			if err != nil {
				return nil, wrapErr(err, "read "+noun(g.class)+"s by", g.kind, "")
			}
			for _, e := range res.Entries {
				for _, k := range entryKeys(e, g.kind) {
					found[g.class+"/"+k] = append(found[g.class+"/"+k], e)
				}
			}
		}
	}
	for i, call := range calls {
		if out[i].Err != nil {
			continue
		}
		s := sels[i]
		if es := found[class(s)+"/"+matchKey(s)]; s.kind != "dn" && len(es) == 1 {
			out[i].Observation, out[i].Err = render(call, es[0])
			continue
		}
		out[i].Observation, out[i].Err = single(ctx, call)
	}
	return out, nil
}

// matchKey is what an entry a selector names has in common with it: the
// selector's kind and value, the value folded as AD compares
// userPrincipalName and sAMAccountName (case-insensitively).
func matchKey(s selector) string {
	return s.kind + ":" + strings.ToLower(s.value)
}

// entryKeys are the matchKeys of the selectors of kind that name e.
func entryKeys(e *ldap.Entry, kind string) []string {
	switch kind {
	case "upn":
		if v := e.GetEqualFoldAttributeValue(attrUPN); v != "" {
			return []string{kind + ":" + strings.ToLower(v)}
		}
	case "sam_account_name":
		if v := e.GetEqualFoldAttributeValue(attrSAM); v != "" {
			return []string{kind + ":" + strings.ToLower(v)}
		}
	case "object_guid":
		if g, ok, err := entryGUID(e, attrObjectGUID); err == nil && ok {
			return []string{kind + ":" + strings.ToLower(g.String())}
		}
	}
	return nil
}

// ObserveMany reads the users of a fan-out with a few paged searches
// (steps.BulkObserver); each observation is what Observe reads.
func (remoteMailboxStep) ObserveMany(ctx context.Context, calls []steps.Call) ([]steps.BulkResult, error) {
	return observeEntries(ctx, calls,
		func(steps.Call) []string { return userAttributes },
		func(selector) string { return "user" },
		func(_ steps.Call, e *ldap.Entry) (steps.Observation, error) { return userObservation(e) },
		remoteMailboxStep{}.Observe)
}

// ObserveMany reads the objects of a fan-out with a few paged searches
// (steps.BulkObserver): users by upn or sam_account_name, any object by
// object_guid, as Observe finds them.
func (attributeStep) ObserveMany(ctx context.Context, calls []steps.Call) ([]steps.BulkResult, error) {
	return observeEntries(ctx, calls,
		func(call steps.Call) []string {
			attr, _ := steps.String(call.Config, "attribute")
			return []string{attrObjectGUID, attr}
		},
		func(s selector) string {
			if s.kind == "object_guid" {
				return "*"
			}
			return "user"
		},
		attributeObservation,
		attributeStep{}.Observe)
}
