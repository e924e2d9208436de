package credential

import (
	"crypto/x509"
	"net/http"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/httpx"
)

// Schema holds the sign-in settings every target that reaches a Microsoft
// cloud service takes (entra, exo, adsync's cloudsync driver); a target
// adds them to its own schema.
var Schema = steps.Schema{
	"tenant_id":      {Type: cty.String, Doc: "The tenant (directory) id or domain to sign in to (default: $AZURE_TENANT_ID)."},
	"device_code":    {Type: cty.Bool, Doc: "Sign a person in with the device code flow instead of the environment's credential."},
	"authority_host": {Type: cty.String, Doc: "The Microsoft Entra authority to sign in at, e.g. https://login.microsoftonline.us/ (default: $AZURE_AUTHORITY_HOST or the public cloud's)."},
	"ca_file":        {Type: cty.String, Doc: "A PEM file of CA certificates to trust besides the system's (a TLS-inspecting proxy, a private CA)."},
}

// With returns schema with the sign-in settings added.
func With(schema steps.Schema) steps.Schema {
	out := steps.Schema{}
	for k, v := range Schema {
		out[k] = v
	}
	for k, v := range schema {
		out[k] = v
	}
	return out
}

// Target is how a target signs in and reaches its service, from its
// settings: the credential's options, and the TLS roots and transport
// that trust its ca_file besides the system's roots.
type Target struct {
	Options   Options
	Roots     *x509.CertPool
	Transport *http.Transport
}

// ForTarget reads the sign-in settings of cfg (those of Schema it has).
func ForTarget(cfg steps.TargetConfig) (Target, error) {
	getenv := cfg.Env()
	tenant, ok := steps.String(cfg.Config, "tenant_id")
	if !ok {
		tenant = getenv("AZURE_TENANT_ID")
	}
	device, _ := steps.Bool(cfg.Config, "device_code")
	authority, _ := steps.String(cfg.Config, "authority_host")
	caFile, _ := steps.String(cfg.Config, "ca_file")
	roots, err := httpx.Roots(caFile)
	if err != nil {
		return Target{}, err
	}
	tr := httpx.TransportFor(roots)
	return Target{Roots: roots, Transport: tr, Options: Options{TenantID: tenant, DeviceCode: device, AuthorityHost: authority,
		HTTP: &http.Client{Transport: tr, Timeout: time.Minute}, Getenv: getenv}}, nil
}
