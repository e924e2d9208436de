package ad

import (
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/steps"
	"github.com/rebind-dev/rebind/steps/powershell"
)

// ad_remote_mailbox through Exchange's own cmdlets. With exchange_shell (the
// argument list that runs one command in the Exchange Management Shell on
// premises, e.g. ["ssh", "exch01", "powershell", "-NoProfile",
// "-NonInteractive", "-EncodedCommand"] on a host whose shell loads the
// Exchange cmdlets), the step does what seed 003 describes and Exchange
// documents instead of writing the attributes itself:
//
//   - a user without mail attributes: Enable-RemoteMailbox -Identity
//     -RemoteRoutingAddress -Alias
//     (https://learn.microsoft.com/powershell/module/exchangepowershell/enable-remotemailbox);
//   - the routing address, ExchangeGuid and ArchiveGuid where they differ:
//     Set-RemoteMailbox -RemoteRoutingAddress -ExchangeGuid -ArchiveGuid
//     (https://learn.microsoft.com/powershell/module/exchangepowershell/set-remotemailbox).
//
// Each script is built from checked values only (the objectGUID rebind
// read, a bare alias, a domain, GUIDs), each in a PowerShell single-quoted
// string, and is passed Base64-encoded as -EncodedCommand takes it, so no
// shell on the way parses it. Rollback writes back, over LDAP, every
// Exchange attribute as it was before: the documented fallback, since
// Disable-RemoteMailbox would also act on the cloud mailbox.

// remoteMailboxCmdlets returns the scripts that make the observed user a
// remote mailbox with the wanted values.
func remoteMailboxCmdlets(call steps.Call, cur cty.Value, want map[string]cty.Value) ([]string, error) {
	id := powershell.Quote(cur.GetAttr("object_guid").AsString())
	routing := strings.TrimPrefix(want["target_address"].AsString(), "SMTP:")
	differs := func(field string) bool {
		w, ok := want[field]
		if !ok {
			return false
		}
		h := cur.GetAttr(field)
		return h.IsNull() || !strings.EqualFold(h.AsString(), w.AsString())
	}
	var scripts []string
	rtd := cur.GetAttr("recipient_type_details")
	switch {
	case rtd.IsNull() || rtd.Equals(cty.Zero).True():
		scripts = append(scripts, fmt.Sprintf("Enable-RemoteMailbox -Identity %s -RemoteRoutingAddress %s -Alias %s",
			id, powershell.Quote(routing), powershell.Quote(want["mail_nickname"].AsString())))
	case rtd.Equals(mustNumber(RecipientTypeRemoteUserMailbox)).True():
	default:
		n, _ := rtd.AsBigFloat().Int64()
		return nil, steps.Permanent(fmt.Errorf("ad: %s: %s is already a recipient of another kind (msExchRecipientTypeDetails %d); "+
			"Enable-RemoteMailbox is for a user without one. Decide what it should be by hand", call.Address, cur.GetAttr("dn").AsString(), n))
	}
	set := "Set-RemoteMailbox -Identity " + id
	args := 0
	if len(scripts) == 0 && differs("target_address") {
		set += " -RemoteRoutingAddress " + powershell.Quote(routing)
		args++
	}
	if differs("exchange_guid") {
		set += " -ExchangeGuid " + powershell.Quote(want["exchange_guid"].AsString())
		args++
	}
	if differs("archive_guid") {
		set += " -ArchiveGuid " + powershell.Quote(want["archive_guid"].AsString())
		args++
	}
	if args > 0 {
		scripts = append(scripts, set)
	}
	return scripts, nil
}

// runExchangeShell runs one script through the step's exchange_shell.
func runExchangeShell(ctx context.Context, shell []string, script string) error {
	argv := append(append([]string{}, shell...), powershell.EncodeCommand(script))
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if len(msg) > 500 {
			msg = "..." + msg[len(msg)-500:]
		}
		return fmt.Errorf("%s: %w: %s", argv[0], err, msg)
	}
	return nil
}
