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
// PowerShell ends such a string on ' and on the typographic single quotes
// U+2018 to U+201B alike, and reads two of them in a row as one ("PowerShell
// treats smart quotation marks, also called typographic or curly quotes,
// as normal quotation marks for strings",
// learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_quoting_rules):
// so does the lab, so that a client quoting only ' is cut short here as
// it would be by Exchange's shell.

const (
	psQuotes = `'\x{2018}-\x{201B}`
	psString = `[` + psQuotes + `]((?:[^` + psQuotes + `]|[` + psQuotes + `]{2})*)[` + psQuotes + `]`
)

// psQuotePair is an escaped quote inside a single-quoted string: the
// tokenizer keeps the second of the two.
var psQuotePair = regexp.MustCompile(`[` + psQuotes + `]([` + psQuotes + `])`)

var (
	exEnable = regexp.MustCompile(`^Enable-RemoteMailbox -Identity ` + psString + ` -RemoteRoutingAddress ` + psString + ` -Alias ` + psString + `$`)
	exSet    = regexp.MustCompile(`^Set-RemoteMailbox -Identity ` + psString + `((?: -(?:RemoteRoutingAddress|ExchangeGuid|ArchiveGuid) ` + psString + `)+)$`)
	exParam  = regexp.MustCompile(` -(RemoteRoutingAddress|ExchangeGuid|ArchiveGuid) ` + psString)
)

func psUnquote(s string) string { return psQuotePair.ReplaceAllString(s, "$1") }

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
