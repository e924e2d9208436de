package ad

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/httpx"
)

var _ steps.Doctor = targetType{}

// Doctor checks the domain controller the way the steps use it: the
// address (TCP), TLS (chain, name and expiry, for ldaps:// or StartTLS),
// a simple bind with the environment's account, a read of the base DN,
// and for each right the runbook's AD steps declare what LDAP lets the
// account see of it:
//
//   - reading users: a search for one user under the base DN;
//   - reading deleted objects: a one-level search of CN=Deleted Objects
//     with the Show Deleted control (LDAP_SERVER_SHOW_DELETED_OID; the
//     container is normally visible to administrators only:
//     https://learn.microsoft.com/windows/win32/ad/retrieving-deleted-objects);
//   - writing attributes: allowedAttributesEffective on a sample user, the
//     attributes the bound account may modify there
//     (https://learn.microsoft.com/windows/win32/adschema/a-allowedattributeseffective);
//   - creating objects: allowedChildClassesEffective on the base DN, the
//     classes it may create there
//     (https://learn.microsoft.com/windows/win32/adschema/a-allowedchildclasseseffective);
//   - Reanimate Tombstones, an extended right, is not observable this way:
//     doctor says so rather than guess.
func (targetType) Doctor(ctx context.Context, req steps.DoctorRequest) []steps.Check {
	s, err := resolve(ctx, req.Config)
	if err != nil {
		return []steps.Check{steps.Failed("settings", err.Error(), "set url and base_dn in the environment, and "+EnvBindDN+" / "+EnvPassword+" in the process environment")}
	}
	u, _ := url.Parse(s.url)
	port := u.Port()
	if port == "" {
		port = map[string]string{"ldaps": "636", "ldap": "389"}[u.Scheme]
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	serverName := s.tlsName(u.Hostname())
	roots, err := httpx.CARoots(s.caFile)
	if err != nil {
		fix := "give a readable PEM file of the DC's CA"
		if errors.Is(err, httpx.ErrNoPEM) {
			fix = "give the DC's CA certificate in PEM"
		}
		return []steps.Check{steps.Failed("settings", err.Error(), fix)}
	}
	var checks []steps.Check
	switch {
	case u.Scheme == "ldaps":
		checks = steps.CheckTLS(ctx, addr, serverName, roots, time.Now())
		if checks[len(checks)-1].State == steps.CheckFailed {
			return checks
		}
	default:
		d := &net.Dialer{Timeout: dialTimeout}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return []steps.Check{steps.Failed("reachable", err.Error(), "check the DC's name, port and firewall")}
		}
		c.Close()
		checks = append(checks, steps.OK("reachable", addr))
	}
	client, err := dial(s)
	if err != nil {
		fix := fmt.Sprintf("check %s and %s (the bind DN or UPN and its password)", s.bindEnv, s.passEnv)
		if strings.Contains(err.Error(), "StartTLS") || strings.Contains(err.Error(), "certificate") {
			fix = "give the DC's CA certificate with ca_file, or use the name its certificate carries"
		}
		return append(checks, steps.Failed("bind", err.Error(), fix))
	}
	defer client.Close()
	if u.Scheme == "ldap" {
		if st, ok := client.conn.TLSConnectionState(); ok {
			checks = append(checks, steps.VerifyChain(st.PeerCertificates, serverName, roots, time.Now()))
		} else {
			checks = append(checks, steps.Unknown("TLS", "none: insecure = true binds in clear text", "use ldaps:// or StartTLS outside a test DC"))
		}
	}
	checks = append(checks, steps.OK("bind", "bound as "+s.bindDN))
	base := client.BaseDN()
	if _, err := client.Search(ldap.NewSearchRequest(base, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 30, false,
		"(objectClass=*)", []string{"distinguishedName"}, nil)); err != nil {
		return append(checks, steps.Failed("read "+base, err.Error(), "check base_dn, and that the account may read it"))
	}
	checks = append(checks, steps.OK("read base DN", base))
	return append(checks, rightsChecks(client, req.Needs)...)
}

// rightsChecks maps the AD rights the steps declare to what LDAP shows.
func rightsChecks(c *Client, needs []steps.Permission) []steps.Check {
	var out []steps.Check
	base := c.BaseDN()
	var sample string
	findSample := func() (string, error) {
		if sample != "" {
			return sample, nil
		}
		res, err := c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 1, 30, false,
			"(&(objectCategory=person)(objectClass=user))", []string{"distinguishedName"}, nil))
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			return "", err
		}
		if res == nil || len(res.Entries) == 0 {
			return "", nil
		}
		sample = res.Entries[0].DN
		return sample, nil
	}
	for _, n := range needs {
		if n.Service != "AD" {
			continue
		}
		name := "AD " + n.Name
		lower := strings.ToLower(n.Name)
		switch {
		case strings.HasPrefix(lower, "read users"):
			dn, err := findSample()
			switch {
			case err != nil:
				out = append(out, steps.Failed(name, err.Error(), "let the account read user objects (Authenticated Users can by default)"))
			case dn == "":
				out = append(out, steps.Unknown(name, "a search for users under "+base+" found none", "check base_dn, and that the account may list users"))
			default:
				out = append(out, steps.OK(name, "found "+dn))
			}
		case strings.HasPrefix(lower, "read deleted objects"):
			// An account that may not list the container sees it empty,
			// as it sees an empty recycle bin: only a listed object
			// proves the right.
			res, err := c.Search(ldap.NewSearchRequest("CN=Deleted Objects,"+base, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 1, 30, false,
				"(objectClass=*)", []string{"distinguishedName"}, []ldap.Control{ldap.NewControlMicrosoftShowDeleted()}))
			const fix = "add the account to Domain Admins, or grant it List Contents and Read Property on CN=Deleted Objects (docs/setup.md)"
			switch {
			case err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
				out = append(out, steps.Failed(name, "CN=Deleted Objects: "+err.Error(), fix))
			case res == nil || len(res.Entries) == 0:
				out = append(out, steps.Unknown(name, "CN=Deleted Objects showed no deleted object: it is empty, or the account may not list it", fix))
			default:
				out = append(out, steps.OK(name, "listed CN=Deleted Objects,"+base))
			}
		case strings.Contains(lower, "reanimate tombstones"):
			out = append(out, steps.Unknown(name, "an extended right on the domain object; LDAP shows no effective extended rights",
				"check the domain's security descriptor: dsacls \""+base+"\" should grant the account Reanimate Tombstones (docs/setup.md)"))
		case strings.Contains(lower, "create child"):
			classes, err := effective(c, base, "allowedChildClassesEffective")
			switch {
			case err != nil:
				out = append(out, steps.Unknown(name, "allowedChildClassesEffective: "+err.Error(), "check the container's permissions by hand"))
			case contains(classes, "user"):
				out = append(out, steps.OK(name, "may create user objects under "+base))
			default:
				out = append(out, steps.Failed(name, "the account may create no user objects under "+base, "grant Create Child (user) on the containers users are restored to"))
			}
		case strings.Contains(lower, "write"):
			dn, err := findSample()
			if err != nil || dn == "" {
				out = append(out, steps.Unknown(name, "no user to read effective rights on", "check Write Property on user objects by hand"))
				continue
			}
			attrs, err := effective(c, dn, "allowedAttributesEffective")
			switch {
			case err != nil:
				out = append(out, steps.Unknown(name, "allowedAttributesEffective: "+err.Error(), "check Write Property on user objects by hand"))
			case len(attrs) == 0:
				out = append(out, steps.Failed(name, "the account may write no attribute of "+dn, "delegate Write Property on user objects to the account (docs/setup.md)"))
			default:
				want := wantedAttrs(lower)
				var missing []string
				for _, a := range want {
					if !contains(attrs, a) {
						missing = append(missing, a)
					}
				}
				if len(missing) > 0 {
					out = append(out, steps.Failed(name, fmt.Sprintf("on %s the account may not write %s", dn, strings.Join(missing, ", ")),
						"delegate Write Property on those attributes of user objects (docs/setup.md)"))
				} else {
					out = append(out, steps.OK(name, fmt.Sprintf("may write %d attributes of %s%s", len(attrs), dn, listed(want))))
				}
			}
		default:
			out = append(out, steps.Unknown(name, "rebind has no check for this right", "check it by hand"))
		}
	}
	return out
}

// wantedAttrs are the attributes a declared write right names.
func wantedAttrs(lowerName string) []string {
	if strings.Contains(lowerName, "proxyaddresses") {
		return []string{"proxyAddresses"}
	}
	return nil
}

func listed(a []string) string {
	if len(a) == 0 {
		return ""
	}
	return ", among them " + strings.Join(a, ", ")
}

// effective reads a constructed attribute of dn.
func effective(c *Client, dn, attr string) ([]string, error) {
	res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 30, false,
		"(objectClass=*)", []string{attr}, nil))
	if err != nil {
		return nil, err
	}
	if len(res.Entries) == 0 {
		return nil, fmt.Errorf("%s not found", dn)
	}
	v := res.Entries[0].GetAttributeValues(attr)
	sort.Strings(v)
	return v, nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
