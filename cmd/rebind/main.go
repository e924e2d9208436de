// Command rebind plans, reviews, applies, resumes and rolls back runbooks
// that repair hybrid identities across Active Directory, Entra ID and
// Exchange Online.
package main

import (
	"os"

	"github.com/rebind-dev/rebind/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
