package steps

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// CheckState is the outcome of one doctor check.
type CheckState string

const (
	// CheckOK: the check passed.
	CheckOK CheckState = "ok"
	// CheckFailed: something the runbook needs is missing or broken.
	CheckFailed CheckState = "failed"
	// CheckUnknown: rebind cannot observe it from here (an Exchange role,
	// an AD extended right); the detail says what to verify by hand.
	CheckUnknown CheckState = "unknown"
	// CheckWarning: works now, but will not for long (a certificate about
	// to expire).
	CheckWarning CheckState = "warning"
)

// Check is one line of `rebind doctor`.
type Check struct {
	// Target is "TYPE.NAME"; the CLI fills it in.
	Target string `json:"target"`
	// Name says what was checked: "reachable", "TLS certificate",
	// "authentication", "Graph User.ReadWrite.All".
	Name  string     `json:"check"`
	State CheckState `json:"state"`
	// Detail is what was found.
	Detail string `json:"detail,omitempty"`
	// Fix says how to mend a failed or unknown check.
	Fix string `json:"fix,omitempty"`
}

// OK, Failed and Unknown build checks.
func OK(name, detail string) Check { return Check{Name: name, State: CheckOK, Detail: detail} }

// Failed is a check that found something missing, with how to fix it.
func Failed(name, detail, fix string) Check {
	return Check{Name: name, State: CheckFailed, Detail: detail, Fix: fix}
}

// Unknown is a check rebind cannot make from here.
func Unknown(name, detail, fix string) Check {
	return Check{Name: name, State: CheckUnknown, Detail: detail, Fix: fix}
}

// DoctorRequest is what a target type checks: its settings, as Open gets
// them, and what the runbook's blocks need through it.
type DoctorRequest struct {
	Config TargetConfig
	// Needs are the permissions the blocks that use this target declare.
	Needs []Permission
}

// Doctor is implemented by target types that can check, before a plan,
// that they are reachable, that TLS and the credential work, and that the
// credential holds what the runbook needs. It never writes.
type Doctor interface {
	Doctor(ctx context.Context, req DoctorRequest) []Check
}

// ExpiryWarning is how soon before a certificate expires doctor says so.
const ExpiryWarning = 14 * 24 * time.Hour

// CheckTLS connects to addr (host:port) with TLS and checks the server's
// certificate chain against roots (the system's when nil), its name
// against serverName, and its expiry. It returns the checks "reachable"
// and "TLS certificate".
func CheckTLS(ctx context.Context, addr, serverName string, roots *x509.CertPool, now time.Time) []Check {
	d := &net.Dialer{Timeout: 10 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return []Check{Failed("reachable", err.Error(), fmt.Sprintf("check the host name and port, DNS, and that a firewall lets this machine reach %s", addr))}
	}
	defer raw.Close()
	checks := []Check{OK("reachable", addr)}
	// The handshake verifies nothing itself, so that an untrusted chain
	// and a wrong name are told apart below; nothing is sent over it.
	conn := tls.Client(raw, &tls.Config{ServerName: serverName, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := conn.HandshakeContext(hctx); err != nil {
		return append(checks, Failed("TLS certificate", "handshake: "+err.Error(), "the server must speak TLS 1.2 or later on "+addr))
	}
	defer conn.Close()
	return append(checks, VerifyChain(conn.ConnectionState().PeerCertificates, serverName, roots, now))
}

// VerifyChain checks a server's certificates: the chain to a trusted
// root, the name, and the expiry.
func VerifyChain(certs []*x509.Certificate, serverName string, roots *x509.CertPool, now time.Time) Check {
	const name = "TLS certificate"
	if len(certs) == 0 {
		return Failed(name, "the server sent no certificate", "configure a certificate on the server")
	}
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	subject := leaf.Subject.CommonName
	if len(leaf.DNSNames) > 0 {
		subject = strings.Join(leaf.DNSNames, ", ")
	}
	if now.After(leaf.NotAfter) {
		return Failed(name, fmt.Sprintf("the certificate for %s expired on %s", subject, leaf.NotAfter.UTC().Format(time.DateOnly)), "renew the server's certificate")
	}
	if now.Before(leaf.NotBefore) {
		return Failed(name, fmt.Sprintf("the certificate for %s is not valid before %s", subject, leaf.NotBefore.UTC().Format(time.RFC3339)), "check the server's and this machine's clocks")
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now})
	var ua x509.UnknownAuthorityError
	switch {
	case errors.As(err, &ua):
		return Failed(name, fmt.Sprintf("the certificate for %s (issued by %s) does not chain to a trusted CA", subject, leaf.Issuer.CommonName),
			"give the issuing CA's certificate (PEM) to the target: ca_file in the environment, or install it in the system store")
	case err != nil:
		return Failed(name, err.Error(), "give the issuing CA's certificate to the target, or fix the server's chain")
	}
	if err := leaf.VerifyHostname(serverName); err != nil {
		return Failed(name, fmt.Sprintf("the certificate names %s, not %s", subject, serverName),
			"use the name the certificate carries in the URL, or set server_name where the target has it")
	}
	left := leaf.NotAfter.Sub(now)
	if left < ExpiryWarning {
		return Check{Name: name, State: CheckWarning, Detail: fmt.Sprintf("the certificate for %s expires on %s, in %d days", subject, leaf.NotAfter.UTC().Format(time.DateOnly), int(left.Hours()/24)),
			Fix: "renew the server's certificate before a run"}
	}
	return OK(name, fmt.Sprintf("%s, issued by %s, valid until %s", subject, leaf.Issuer.CommonName, leaf.NotAfter.UTC().Format(time.DateOnly)))
}

// EndpointChecks checks that an https endpoint is reachable and its
// certificate sound against roots (nil: the system's).
func EndpointChecks(ctx context.Context, endpoint string, roots *x509.CertPool) []Check {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return []Check{Failed("endpoint", fmt.Sprintf("%q is not a URL", endpoint), "give an https:// URL")}
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	if u.Scheme == "https" {
		return CheckTLS(ctx, addr, u.Hostname(), roots, time.Now())
	}
	return []Check{Failed("endpoint", endpoint+" is not https", "use an https:// URL")}
}
