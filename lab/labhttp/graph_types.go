package labhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rebind-dev/rebind/lab"
)

// The lab's Graph server has its own JSON types, written from Microsoft's
// published v1.0 schema (checked by graph_csdl_test.go), so that a wrong
// shape on the client side shows up in tests instead of agreeing with
// itself.

// graphAssignedLicense is microsoft.graph.assignedLicense.
type graphAssignedLicense struct {
	DisabledPlans []string `json:"disabledPlans"`
	SkuID         string   `json:"skuId"`
}

// graphProvisioningError is microsoft.graph.onPremisesProvisioningError.
type graphProvisioningError struct {
	Category             string `json:"category"`
	OccurredDateTime     string `json:"occurredDateTime"`
	PropertyCausingError string `json:"propertyCausingError"`
	Value                string `json:"value"`
}

// graphServiceError is microsoft.graph.serviceProvisioningXmlError, the
// only concrete serviceProvisioningError.
type graphServiceError struct {
	ODataType       string `json:"@odata.type"`
	CreatedDateTime string `json:"createdDateTime"`
	IsResolved      bool   `json:"isResolved"`
	ServiceInstance string `json:"serviceInstance"`
	ErrorDetail     string `json:"errorDetail"`
}

// graphVerifiedDomain is microsoft.graph.verifiedDomain.
type graphVerifiedDomain struct {
	Capabilities string `json:"capabilities"`
	IsDefault    bool   `json:"isDefault"`
	IsInitial    bool   `json:"isInitial"`
	Name         string `json:"name"`
	Type         string `json:"type"`
}

// graphTime formats a time as Graph does; nil for an unset time.
func graphTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// nullable returns nil for "", else s, for properties Graph sends as null
// when empty.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// userProperty renders one property of a user.
type userProperty func(u *lab.CloudUser) any

// userProperties are the user properties the lab serves, keyed by their
// Graph names. Every value is a JSON-typed Go value matching the CSDL.
var userProperties = map[string]userProperty{
	"id":                          func(u *lab.CloudUser) any { return u.ID },
	"deletedDateTime":             func(u *lab.CloudUser) any { return graphTime(u.DeletedDateTime) },
	"accountEnabled":              func(u *lab.CloudUser) any { return u.AccountEnabled },
	"businessPhones":              func(u *lab.CloudUser) any { return []string{} },
	"createdDateTime":             func(u *lab.CloudUser) any { return graphTime(&u.CreatedDateTime) },
	"displayName":                 func(u *lab.CloudUser) any { return nullable(u.DisplayName) },
	"givenName":                   func(u *lab.CloudUser) any { return nil },
	"jobTitle":                    func(u *lab.CloudUser) any { return nil },
	"mail":                        func(u *lab.CloudUser) any { return nullable(u.Mail) },
	"mailNickname":                func(u *lab.CloudUser) any { return nullable(u.MailNickname) },
	"mobilePhone":                 func(u *lab.CloudUser) any { return nil },
	"officeLocation":              func(u *lab.CloudUser) any { return nil },
	"preferredLanguage":           func(u *lab.CloudUser) any { return nil },
	"surname":                     func(u *lab.CloudUser) any { return nil },
	"userPrincipalName":           func(u *lab.CloudUser) any { return u.UserPrincipalName },
	"userType":                    func(u *lab.CloudUser) any { return "Member" },
	"proxyAddresses":              func(u *lab.CloudUser) any { return nonNil(u.ProxyAddresses) },
	"onPremisesImmutableId":       func(u *lab.CloudUser) any { return nullable(u.OnPremisesImmutableID) },
	"onPremisesSyncEnabled":       func(u *lab.CloudUser) any { return u.OnPremisesSyncEnabled },
	"onPremisesLastSyncDateTime":  func(u *lab.CloudUser) any { return graphTime(u.OnPremisesLastSyncDateTime) },
	"onPremisesDistinguishedName": func(u *lab.CloudUser) any { return nullable(u.OnPremisesDistinguishedName) },
	"onPremisesSamAccountName":    func(u *lab.CloudUser) any { return nullable(u.OnPremisesSamAccountName) },
	"onPremisesUserPrincipalName": func(u *lab.CloudUser) any { return nullable(u.OnPremisesUserPrincipalName) },
	"onPremisesDomainName":        func(u *lab.CloudUser) any { return onPremDomain(u) },
	"lastPasswordChangeDateTime":  func(u *lab.CloudUser) any { return graphTime(u.LastPasswordChangeDateTime) },
	"assignedLicenses": func(u *lab.CloudUser) any {
		out := make([]graphAssignedLicense, len(u.AssignedLicenses))
		for i, s := range u.AssignedLicenses {
			out[i] = graphAssignedLicense{DisabledPlans: []string{}, SkuID: s}
		}
		return out
	},
	"onPremisesProvisioningErrors": func(u *lab.CloudUser) any {
		out := make([]graphProvisioningError, len(u.OnPremisesProvisioningErrors))
		for i, e := range u.OnPremisesProvisioningErrors {
			out[i] = graphProvisioningError{Category: e.Category, OccurredDateTime: *graphTime(&e.OccurredDateTime),
				PropertyCausingError: e.PropertyCausingError, Value: e.Value}
		}
		return out
	},
	"serviceProvisioningErrors": func(u *lab.CloudUser) any {
		out := make([]graphServiceError, len(u.ServiceProvisioningErrors))
		for i, e := range u.ServiceProvisioningErrors {
			out[i] = graphServiceError{ODataType: "#microsoft.graph.serviceProvisioningXmlError", CreatedDateTime: *graphTime(&e.CreatedDateTime),
				IsResolved: e.IsResolved, ServiceInstance: e.ServiceInstance, ErrorDetail: e.ErrorDetail}
		}
		return out
	},
}

// defaultUserSelect is what Graph v1.0 returns for a user without $select;
// on-premises properties are returned only when selected.
var defaultUserSelect = []string{"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
	"officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// onPremDomain derives onPremisesDomainName from the user's on-premises DN.
func onPremDomain(u *lab.CloudUser) *string {
	var parts []string
	for _, rdn := range strings.Split(u.OnPremisesDistinguishedName, ",") {
		if len(rdn) > 3 && strings.EqualFold(rdn[:3], "DC=") {
			parts = append(parts, rdn[3:])
		}
	}
	if len(parts) == 0 {
		return nil
	}
	s := strings.Join(parts, ".")
	return &s
}

// parseSelect reads $select; nil means the default set. Unknown names are
// an error, as in Graph.
func parseSelect(q string) ([]string, error) {
	if q == "" {
		return nil, nil
	}
	var out []string
	for _, p := range strings.Split(q, ",") {
		p = strings.TrimSpace(p)
		name := ""
		for k := range userProperties {
			if strings.EqualFold(k, p) {
				name = k
			}
		}
		if name == "" {
			return nil, fmt.Errorf("Could not find a property named '%s' on type 'microsoft.graph.user'.", p)
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// writeUser appends u's JSON to buf with the selected properties (nil: the
// default set), preceded by "@odata.context" when context is not empty and
// "@odata.type" when typed is set (directory objects that are not
// necessarily users, as in deletedItems).
func writeUser(buf *bytes.Buffer, u *lab.CloudUser, sel []string, typed bool, context string) {
	if sel == nil {
		sel = defaultUserSelect
	}
	buf.WriteByte('{')
	if context != "" {
		buf.WriteString(`"@odata.context":`)
		writeString(buf, context)
		buf.WriteByte(',')
	}
	if typed {
		buf.WriteString(`"@odata.type":"#microsoft.graph.user",`)
	}
	for i, name := range sel {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteByte('"')
		buf.WriteString(name)
		buf.WriteString(`":`)
		writeValue(buf, userProperties[name](u))
	}
	buf.WriteByte('}')
}

// graphOrganization is microsoft.graph.organization as the lab serves it.
type graphOrganization struct {
	ID                         string                `json:"id"`
	DeletedDateTime            *string               `json:"deletedDateTime"`
	DisplayName                string                `json:"displayName"`
	OnPremisesSyncEnabled      *bool                 `json:"onPremisesSyncEnabled"`
	OnPremisesLastSyncDateTime *string               `json:"onPremisesLastSyncDateTime"`
	VerifiedDomains            []graphVerifiedDomain `json:"verifiedDomains"`
}

// orgOf is t's organization as Graph serves it.
func orgOf(t *lab.Tenant) graphOrganization {
	o := t.Organization()
	cfg := t.Config()
	doms := []graphVerifiedDomain{{Capabilities: "Email, OfficeCommunicationsOnline", IsDefault: true, IsInitial: true,
		Name: cfg.TenantDomain, Type: "Managed"}}
	for _, d := range cfg.Domains {
		typ := d.Type
		if typ == "" {
			typ = "Managed"
		}
		doms = append(doms, graphVerifiedDomain{Capabilities: "Email, OfficeCommunicationsOnline", Name: d.Name, Type: typ})
	}
	return graphOrganization{ID: o.ID, DisplayName: o.DisplayName, OnPremisesSyncEnabled: o.OnPremisesSyncEnabled,
		OnPremisesLastSyncDateTime: graphTime(o.OnPremisesLastSyncDateTime), VerifiedDomains: doms}
}

// writeValue appends v as JSON. The common shapes of user properties are
// written directly: listing 100,000 users would otherwise spend most of its
// time in reflection.
func writeValue(buf *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case string:
		writeString(buf, x)
	case *string:
		if x == nil {
			buf.WriteString("null")
		} else {
			writeString(buf, *x)
		}
	case bool:
		buf.WriteString(strconv.FormatBool(x))
	case *bool:
		if x == nil {
			buf.WriteString("null")
		} else {
			buf.WriteString(strconv.FormatBool(*x))
		}
	case []string:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, e)
		}
		buf.WriteByte(']')
	default:
		b, err := json.Marshal(v)
		if err != nil {
			panic(fmt.Sprintf("lab: Graph value %T does not marshal: %v", v, err))
		}
		buf.Write(b)
	}
}

// writeString appends s as a JSON string.
func writeString(buf *bytes.Buffer, s string) {
	if !utf8.ValidString(s) {
		b, _ := json.Marshal(s)
		buf.Write(b)
		return
	}
	buf.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		buf.WriteString(s[start:i])
		switch c {
		case '"', '\\':
			buf.WriteByte('\\')
			buf.WriteByte(c)
		default:
			fmt.Fprintf(buf, `\u%04x`, c)
		}
		start = i + 1
	}
	buf.WriteString(s[start:])
	buf.WriteByte('"')
}
