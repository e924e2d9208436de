package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/rebind-dev/rebind/engine/environment"
	"github.com/rebind-dev/rebind/steps"
)

// Environment variables that choose a lab identity other than the lab's
// default app (GET /lab/endpoints names it).
const (
	EnvLabClientID     = "REBIND_LAB_CLIENT_ID"
	EnvLabClientSecret = "REBIND_LAB_CLIENT_SECRET"
	// EnvLabClientCertificate names a PEM file holding the certificate and
	// private key of the REBIND_LAB_CLIENT_ID app, used instead of a
	// secret.
	EnvLabClientCertificate = "REBIND_LAB_CLIENT_CERTIFICATE"
	// EnvLabToken holds a ready token (POST /lab/token's delegated ones).
	EnvLabToken = "REBIND_LAB_TOKEN"
)

// anonymousToken is the bearer token sent to a lab that serves without
// tokens: it is checked by nothing.
const anonymousToken = "rebind-lab-token"

// Binding binds rebind's targets to a running lab the way an environment
// file binds them to a tenant: each target gets ordinary settings (the
// lab's URLs, its tenant, its authority and a CA file holding its CA), and
// the run gets an environment holding the lab's credentials instead of the
// process's. The targets then open the lab through the same code as a real
// tenant; nothing in them knows a lab exists.
type Binding struct {
	// URL is the lab's base URL.
	URL string
	// Endpoints is what the lab said about itself.
	Endpoints Endpoints
	// CAFile holds the lab's CA (PEM), for ca_file.
	CAFile string
	env    map[string]string
	getenv func(string) string
}

// Bind asks the lab at base for its endpoints and writes its CA into dir
// (a file named after the lab's origin). getenv (nil: os.Getenv) supplies
// REBIND_LAB_CA and the REBIND_LAB_* identity overrides. A lab served over
// plain http cannot be bound: targets refuse anything but https.
func Bind(ctx context.Context, base, dir string, getenv func(string) string) (*Binding, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("lab %q: not a URL", base)
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("lab %s: rebind binds targets to a lab over https only (this one was served with --plain-http, which is for clients that cannot be given its CA)", base)
	}
	l, err := Dial(base, getenv)
	if err != nil {
		return nil, err
	}
	ep, err := l.Endpoints(ctx)
	if err != nil {
		return nil, err
	}
	if ep.CA == "" {
		return nil, fmt.Errorf("lab %s: /lab/endpoints publishes no CA", base)
	}
	sum := sha256.Sum256([]byte(origin(base)))
	caFile := filepath.Join(dir, "lab-ca-"+hex.EncodeToString(sum[:6])+".pem")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lab %s: %w", base, err)
	}
	if err := os.WriteFile(caFile, []byte(ep.CA), 0o600); err != nil {
		return nil, fmt.Errorf("lab %s: write its CA: %w", base, err)
	}
	b := &Binding{URL: strings.TrimRight(base, "/"), Endpoints: ep, CAFile: caFile, getenv: getenv}
	b.env = map[string]string{
		"AZURE_TENANT_ID":    ep.TenantID,
		"REBIND_AD_BIND_DN":  ep.LDAPBindDN,
		"REBIND_AD_PASSWORD": ep.LDAPPassword,
	}
	switch {
	case getenv(EnvLabToken) != "":
		b.env["REBIND_ACCESS_TOKEN"] = getenv(EnvLabToken)
	case ep.TokenEndpoint == "":
		b.env["REBIND_ACCESS_TOKEN"] = anonymousToken
	case getenv(EnvLabClientID) != "":
		b.env["AZURE_CLIENT_ID"] = getenv(EnvLabClientID)
		if f := getenv(EnvLabClientCertificate); f != "" {
			b.env["AZURE_CLIENT_CERTIFICATE_PATH"] = f
		} else {
			b.env["AZURE_CLIENT_SECRET"] = getenv(EnvLabClientSecret)
		}
	default:
		b.env["AZURE_CLIENT_ID"], b.env["AZURE_CLIENT_SECRET"] = ep.ClientID, ep.ClientSecret
	}
	return b, nil
}

// Getenv is the environment a run bound to the lab reads: the lab's
// credentials, and none of the process's Azure or AD ones (those are for
// the real tenant, and must never reach whatever answered at the lab's
// URL). Everything else reads through.
func (b *Binding) Getenv(key string) string {
	if v, ok := b.env[key]; ok {
		return v
	}
	if strings.HasPrefix(key, "AZURE_") || strings.HasPrefix(key, "REBIND_AD_") || key == "REBIND_ACCESS_TOKEN" {
		return ""
	}
	return b.getenv(key)
}

// Settings are the settings of a target of type typ bound to the lab.
func (b *Binding) Settings(typ string) (map[string]cty.Value, error) {
	ep := b.Endpoints
	s := func(v string) cty.Value { return cty.StringVal(v) }
	switch typ {
	case "entra":
		return map[string]cty.Value{"graph_url": s(b.URL), "tenant_id": s(ep.TenantID),
			"authority_host": s(ep.Authority), "ca_file": s(b.CAFile)}, nil
	case "exo":
		return map[string]cty.Value{"url": s(b.URL), "organization": s(ep.Tenant), "tenant_id": s(ep.TenantID),
			"authority_host": s(ep.Authority), "ca_file": s(b.CAFile)}, nil
	case "ad":
		if ep.LDAPS == "" {
			return nil, fmt.Errorf("lab %s: /lab/endpoints names no LDAPS address", b.URL)
		}
		// The variables the bind DN and password are read from are the
		// binding's own, which hold the lab's: a runbook naming others
		// (bind_dn_env) would read the process's, and is refused as a
		// setting given twice.
		return map[string]cty.Value{"url": s(ep.LDAPS), "base_dn": s(ep.LDAPBaseDN), "ca_file": s(b.CAFile),
			"bind_dn_env": s("REBIND_AD_BIND_DN"), "password_env": s("REBIND_AD_PASSWORD")}, nil
	case "adsync":
		return map[string]cty.Value{"driver": s("lab"), "url": s(b.URL), "ca_file": s(b.CAFile)}, nil
	}
	return nil, fmt.Errorf("a lab serves no %q target", typ)
}

// Ref names a target a runbook declares.
type Ref struct{ Type, Name string }

// Environment is the text of an environment file binding targets to the
// lab, for the engine to read as it reads any other.
func (b *Binding) Environment(targets []Ref) ([]byte, error) {
	f := hclwrite.NewEmptyFile()
	for _, t := range targets {
		set, err := b.Settings(t.Type)
		if err != nil {
			return nil, err
		}
		body := f.Body().AppendNewBlock("target", []string{t.Type, t.Name}).Body()
		for _, k := range slices.Sorted(maps.Keys(set)) {
			body.SetAttributeValue(k, set[k])
		}
	}
	return append([]byte("# The lab tenant at "+b.URL+", bound by rebind --lab.\n"), f.Bytes()...), nil
}

// TargetConfig is the configuration of target typ.name bound to the lab
// with the extra settings given (a test's), as the engine would decode it.
func (b *Binding) TargetConfig(typ, name string, extra map[string]cty.Value) (steps.TargetConfig, error) {
	tt, ok := steps.LookupTarget(typ)
	if !ok {
		return steps.TargetConfig{}, fmt.Errorf("no target type %q", typ)
	}
	set, err := b.Settings(typ)
	if err != nil {
		return steps.TargetConfig{}, err
	}
	for k, v := range extra {
		set[k] = v
	}
	schema := tt.Info().Schema
	attrs := map[string]cty.Value{}
	for k, a := range schema {
		attrs[k] = cty.NullVal(a.Type)
		if v, ok := set[k]; ok {
			if a.Type != cty.DynamicPseudoType {
				c, err := convert.Convert(v, a.Type)
				if err != nil {
					return steps.TargetConfig{}, fmt.Errorf("target type %s, setting %s: %w", typ, k, err)
				}
				v = c
			}
			attrs[k] = v
		}
	}
	for k := range set {
		if _, ok := schema[k]; !ok {
			return steps.TargetConfig{}, fmt.Errorf("target type %s has no setting %q", typ, k)
		}
	}
	return steps.TargetConfig{Name: name, Config: cty.ObjectVal(attrs), Getenv: b.Getenv}, nil
}

// EnvironmentFor is the environment binding the targets keys name
// ("TYPE.NAME") to the lab, as the engine's Bind takes it.
func (b *Binding) EnvironmentFor(keys []string) (*environment.Environment, error) {
	refs := make([]Ref, 0, len(keys))
	for _, k := range keys {
		typ, name, _ := strings.Cut(k, ".")
		refs = append(refs, Ref{Type: typ, Name: name})
	}
	src, err := b.Environment(refs)
	if err != nil {
		return nil, err
	}
	env, diags := environment.Parse(src, "the lab at "+b.URL)
	if diags.HasErrors() {
		return nil, diags
	}
	return env, nil
}
