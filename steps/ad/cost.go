package ad

import "github.com/rebind-dev/rebind/steps"

// The LDAP operations each step type declares it spends (steps.Costed),
// counted as requests: a search (one page) or a modify. LDAP has no
// documented request budget: the target is not paced.
var (
	search = steps.Cost{Requests: 1}
	modify = steps.Cost{Requests: 1}
)

// bulkSearch is what observeEntries spends on n objects: subtree searches
// ORing up to maxOrTerms selectors, each one page.
func bulkSearch(n int) steps.Cost {
	return steps.Cost{Requests: int64((n + maxOrTerms - 1) / maxOrTerms)}
}

func (userData) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceLDAP, Observe: search}
}

// ad_users pages through its search: one page counted.
func (usersData) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceLDAP, Observe: search}
}

func (deletedUserData) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceLDAP, Observe: search}
}

func (attributeStep) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceLDAP, Observe: search, Apply: modify, Bulk: bulkSearch}
}

func (remoteMailboxStep) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceLDAP, Observe: search, Apply: modify, Bulk: bulkSearch}
}

// ad_user_restored looks among the deleted objects, then the live ones.
func (restoreStep) RequestCosts() steps.RequestCosts {
	return steps.RequestCosts{Service: steps.ServiceLDAP, Observe: search.Times(2), Apply: modify}
}
