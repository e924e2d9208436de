package labhttp

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/lab"
)

// The lab's on-premises Exchange command surface: POST
// /lab/exchange/powershell with a command Base64-encoded as -EncodedCommand
// takes it, answered as ad_remote_mailbox's exchange_shell reads it (exit
// status and text). It runs the two cmdlets that step sends, on the lab's
// AD users:
//
//   - Enable-RemoteMailbox -Identity -RemoteRoutingAddress -Alias
//     (https://learn.microsoft.com/powershell/module/exchangepowershell/enable-remotemailbox),
//     for a user without mail attributes: it stamps what the lab's remote
//     mailboxes carry (mailNickname, targetAddress, the remote user mailbox
//     recipient types, the routing address among the proxy addresses);
//   - Set-RemoteMailbox -Identity [-RemoteRoutingAddress] [-ExchangeGuid]
//     [-ArchiveGuid]
//     (https://learn.microsoft.com/powershell/module/exchangepowershell/set-remotemailbox),
//     for a remote mailbox.
//
// Values are PowerShell single-quoted strings. Anything else is refused.

const psString = `'((?:[^']|'')*)'`

var (
	exEnable = regexp.MustCompile(`^Enable-RemoteMailbox -Identity ` + psString + ` -RemoteRoutingAddress ` + psString + ` -Alias ` + psString + `$`)
	exSet    = regexp.MustCompile(`^Set-RemoteMailbox -Identity ` + psString + `((?: -(?:RemoteRoutingAddress|ExchangeGuid|ArchiveGuid) ` + psString + `)+)$`)
	exParam  = regexp.MustCompile(` -(RemoteRoutingAddress|ExchangeGuid|ArchiveGuid) ` + psString)
)

func psUnquote(s string) string { return strings.ReplaceAll(s, "''", "'") }

func (s *Server) controlExchangeShell(w http.ResponseWriter, r *http.Request) {
	cmd, ok := encodedCommand(w, r)
	if !ok {
		return
	}
	var err error
	switch {
	case exEnable.MatchString(cmd):
		m := exEnable.FindStringSubmatch(cmd)
		id, routing, alias := psUnquote(m[1]), psUnquote(m[2]), psUnquote(m[3])
		_, err = s.t.TryUpdateADUser(id, func(u *lab.ADUser) error {
			if u.RecipientTypeDetails != 0 || u.MailNickname != "" && u.TargetAddress != "" {
				return fmt.Errorf("%w: %s is already a recipient (msExchRecipientTypeDetails %d)", lab.ErrRefused, u.DN, u.RecipientTypeDetails)
			}
			u.MailNickname, u.TargetAddress = alias, "SMTP:"+routing
			u.RecipientTypeDetails, u.RemoteRecipientType, u.RecipientDisplayType = lab.RecipientRemoteUserMailbox, lab.RemoteTypeProvisionMailbox, lab.DisplayTypeRemoteMailUser
			has := false
			for _, p := range u.ProxyAddresses {
				if strings.EqualFold(p, "smtp:"+routing) {
					has = true
				}
			}
			if !has {
				u.ProxyAddresses = append(append([]string{}, u.ProxyAddresses...), "smtp:"+routing)
			}
			return nil
		})
	case exSet.MatchString(cmd):
		m := exSet.FindStringSubmatch(cmd)
		id := psUnquote(m[1])
		params := map[string]string{}
		for _, p := range exParam.FindAllStringSubmatch(m[2], -1) {
			params[p[1]] = psUnquote(p[2])
		}
		_, err = s.t.TryUpdateADUser(id, func(u *lab.ADUser) error {
			if u.RecipientTypeDetails != lab.RecipientRemoteUserMailbox {
				return fmt.Errorf("%w: %s is not a remote mailbox", lab.ErrRefused, u.DN)
			}
			if v, ok := params["RemoteRoutingAddress"]; ok {
				u.TargetAddress = "SMTP:" + v
			}
			for name, dst := range map[string]*anchor.GUID{"ExchangeGuid": &u.MailboxGUID, "ArchiveGuid": &u.ArchiveGUID} {
				if v, ok := params[name]; ok {
					g, err := anchor.ParseGUID(v)
					if err != nil {
						return fmt.Errorf("%w: -%s %q: %v", lab.ErrInvalid, name, v, err)
					}
					*dst = g
				}
			}
			return nil
		})
	default:
		http.Error(w, fmt.Sprintf("The lab's Exchange server does not answer %q.", cmd), http.StatusBadRequest)
		return
	}
	switch {
	case errors.Is(err, lab.ErrNotFound):
		http.Error(w, "The operation couldn't be performed because the object couldn't be found: "+err.Error(), http.StatusNotFound)
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
}
