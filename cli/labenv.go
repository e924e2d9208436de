package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rebind-dev/rebind/lab/control"
	"github.com/rebind-dev/rebind/lab/instance"
)

// writeLabEnvironment writes an environment file binding the targets the
// bundled runbooks declare (entra "tenant", exo "tenant", ad "corp",
// adsync "connect", the names of examples/environments/prod.hcl) to the
// lab in, with the lab's CA in a file beside it, and prints to w the
// variables its credentials come from. With it, `rebind --env FILE`
// reaches the lab the way it reaches a tenant: the settings from the
// file, the credentials from the process environment (AZURE_*,
// REBIND_AD_*), nothing lab-specific on the way; it is how docs/setup.md
// walks a new admin through doctor and plan before their own tenant.
func writeLabEnvironment(in *instance.Instance, path string, w io.Writer) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	// The lab's certificate chains to the CA this process holds (Start
	// recorded it); no other CA is looked for.
	b, err := control.Bind(context.Background(), in.URL, filepath.Dir(abs), func(string) string { return "" })
	if err != nil {
		return err
	}
	refs, err := bundledTargets()
	if err != nil {
		return err
	}
	src, err := b.Environment(refs)
	if err != nil {
		return err
	}
	// Environment heads the text with a line naming --lab; this file is
	// given with --env.
	if i := bytes.IndexByte(src, '\n'); bytes.HasPrefix(src, []byte("#")) && i >= 0 {
		src = src[i+1:]
	}
	head := "# Written by `rebind lab serve --env-file`: the targets of the bundled\n" +
		"# runbooks, bound to the lab tenant at " + in.URL + " the way\n" +
		"# examples/environments/prod.hcl binds them to yours. Credentials are\n" +
		"# not in it: they come from the process environment (lab serve printed\n" +
		"# them).\n"
	if err := os.WriteFile(abs, append([]byte(head), src...), 0o644); err != nil {
		return fmt.Errorf("lab serve: --env-file: %w", err)
	}
	ep := b.Endpoints
	fmt.Fprintf(w, "Environment file %s written, its targets bound to this lab (its CA in %s).\n", path, b.CAFile)
	fmt.Fprintf(w, "Its credentials, the lab's own, come from the process environment as a tenant's do; in another terminal:\n")
	fmt.Fprintf(w, "  export AZURE_TENANT_ID=%s AZURE_CLIENT_ID=%s AZURE_CLIENT_SECRET=%s\n",
		shellQuote(ep.TenantID), shellQuote(ep.ClientID), shellQuote(ep.ClientSecret))
	fmt.Fprintf(w, "  export REBIND_AD_BIND_DN=%s REBIND_AD_PASSWORD=%s\n", shellQuote(ep.LDAPBindDN), shellQuote(ep.LDAPPassword))
	fmt.Fprintf(w, "Then: rebind --env %s doctor RUNBOOK\n", path)
	return nil
}

// bundledTargets are the targets the bundled runbooks declare, each once.
func bundledTargets() ([]control.Ref, error) {
	seen := map[control.Ref]bool{}
	for _, name := range bundled() {
		rb, diags := loadRunbook(name)
		if diags.HasErrors() {
			return nil, fmt.Errorf("runbook %s: %s", name, diags.Error())
		}
		for _, t := range rb.Targets {
			seen[control.Ref{Type: t.Type, Name: t.Name}] = true
		}
	}
	refs := make([]control.Ref, 0, len(seen))
	for r := range seen {
		refs = append(refs, r)
	}
	order := map[string]int{"entra": 0, "exo": 1, "ad": 2, "adsync": 3}
	sort.Slice(refs, func(i, j int) bool {
		if refs[i].Type != refs[j].Type {
			return order[refs[i].Type] < order[refs[j].Type]
		}
		return refs[i].Name < refs[j].Name
	})
	return refs, nil
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
