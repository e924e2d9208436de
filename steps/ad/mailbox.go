package ad

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/steps"
)

// The values on-premises Exchange writes for a remote (Exchange Online)
// user mailbox.
const (
	// RecipientTypeRemoteUserMailbox is msExchRecipientTypeDetails of a remote user mailbox.
	RecipientTypeRemoteUserMailbox = "2147483648"
	// RemoteRecipientTypeProvisioned is msExchRemoteRecipientType of a mailbox created in the cloud (New-RemoteMailbox).
	RemoteRecipientTypeProvisioned = "1"
	// RemoteRecipientTypeMigrated is msExchRemoteRecipientType of a mailbox moved or re-linked to the cloud.
	RemoteRecipientTypeMigrated = "4"
	// RecipientDisplayTypeRemoteMailbox is msExchRecipientDisplayType of a synced remote user mailbox (ACL-able).
	RecipientDisplayTypeRemoteMailbox = "-2147483642"
)

func init() {
	steps.Register(remoteMailboxStep{})
}

// remoteMailboxStep is the ad_remote_mailbox type: the on-premises
// attributes that make a user a remote mailbox, so that Entra Connect
// syncs its Exchange attributes (they only sync when mailNickname is set).
type remoteMailboxStep struct{}

func (remoteMailboxStep) Info() steps.Info {
	return steps.Info{
		Name: "ad_remote_mailbox",
		Doc: "Gives an Active Directory user the attributes of a remote mailbox in Exchange Online: mailNickname, " +
			"targetAddress SMTP:alias@routing_domain, the recipient type values, the routing address among its proxy " +
			"addresses, and msExchMailboxGuid / msExchArchiveGUID from the cloud's ExchangeGuid / ArchiveGuid. " +
			"Only the attributes that differ are written; rollback restores them. A user with a mailbox on premises " +
			"(msExchRecipientTypeDetails of a user, linked, shared, room or equipment mailbox) is refused.",
		Kind:   steps.KindEnsure,
		Target: "ad",
		Schema: selectorSchema(steps.Schema{
			"alias":           {Type: cty.String, Required: true, PII: true, Doc: "The Exchange alias (mailNickname): letters, numbers, !#$%&'*+-/=?^_`{|}~, periods between other characters and U+00A1 to U+00FF, at most 64 characters (Exchange's -Alias rules)."},
			"routing_domain":  {Type: cty.String, Required: true, Doc: "The tenant's routing domain, e.g. contoso.mail.onmicrosoft.com."},
			"new_mailbox":     {Type: cty.Bool, Doc: "The mailbox was created in the cloud (msExchRemoteRecipientType 1) rather than moved or re-linked (4, the default)."},
			"proxy_addresses": {Type: cty.List(cty.String), PII: true, Doc: "The exact proxy addresses to keep (default the current ones); the routing address is added when missing."},
			"exchange_guid":   {Type: cty.String, Doc: "The cloud mailbox's ExchangeGuid, for msExchMailboxGuid (default: leave as is)."},
			"archive_guid":    {Type: cty.String, Doc: "The cloud archive's ArchiveGuid, for msExchArchiveGUID (default: leave as is)."},
			"exchange_shell": {Type: cty.List(cty.String), Doc: "Run Exchange's cmdlets instead of writing the attributes: the program and " +
				"arguments that run one command in the Exchange Management Shell, the command Base64-encoded as the last argument, e.g. " +
				`["ssh", "exch01", "powershell", "-NoProfile", "-NonInteractive", "-EncodedCommand"]. The step then runs ` +
				"Enable-RemoteMailbox (a user without mail attributes) and Set-RemoteMailbox -ExchangeGuid/-ArchiveGuid where they differ; " +
				"proxy_addresses and new_mailbox are then Exchange's to set. Without it, the attributes are written over LDAP."},
		}),
		Reversibility: steps.Reversible,
		Permissions:   []string{"AD: Write Property on the user's Exchange attributes and proxyAddresses"},
	}
}

// mailboxField ties a field of UserType to its LDAP attribute.
type mailboxField struct {
	field, attr string
}

var mailboxFields = []mailboxField{
	{"mail_nickname", attrMailNickname},
	{"target_address", attrTargetAddress},
	{"recipient_type_details", attrRecipientTypeDetail},
	{"remote_recipient_type", attrRemoteRecipientType},
	{"recipient_display_type", attrRecipientDisplay},
	{"proxy_addresses", attrProxyAddresses},
	{"exchange_guid", attrMailboxGUID},
	{"archive_guid", attrArchiveGUID},
}

// mailboxChange is one attribute write, in the journal.
type mailboxChange struct {
	Attribute string   `json:"attribute"`
	Before    [][]byte `json:"before"`
	After     [][]byte `json:"after"`
}

type mailboxPrivate struct {
	DN      string          `json:"dn"`
	GUID    string          `json:"object_guid"`
	Changes []mailboxChange `json:"changes"`
	// Cmdlets are the Exchange scripts Apply runs (exchange_shell); then
	// Restore holds every Exchange attribute as it was, for Revert.
	Cmdlets []string        `json:"cmdlets,omitempty"`
	Restore []mailboxChange `json:"restore,omitempty"`
}

func (remoteMailboxStep) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	return observeUser(call)
}

// desiredMailbox returns the wanted value of each field the call decides,
// in the field's cty type.
func desiredMailbox(call steps.Call, current cty.Value) (map[string]cty.Value, error) {
	alias, _ := steps.String(call.Config, "alias")
	domain, _ := steps.String(call.Config, "routing_domain")
	alias, domain = strings.TrimSpace(alias), strings.TrimPrefix(strings.TrimSpace(domain), "@")
	if !validAlias(alias) {
		return nil, steps.Permanent(fmt.Errorf("ad: %s: alias %q is not an Exchange alias: letters, numbers, "+
			"!#$%%&'*+-/=?^_`{|}~, periods between other characters and U+00A1 to U+00FF, at most 64 characters", call.Address, alias))
	}
	if !validDomain(domain) {
		return nil, steps.Permanent(fmt.Errorf("ad: %s: routing_domain %q is not a domain name: labels of letters, digits and "+
			"hyphens (not first or last) joined by periods", call.Address, domain))
	}
	routing := alias + "@" + domain
	remoteType := RemoteRecipientTypeMigrated
	if n, _ := steps.Bool(call.Config, "new_mailbox"); n {
		remoteType = RemoteRecipientTypeProvisioned
	}
	want := map[string]cty.Value{
		"mail_nickname":          cty.StringVal(alias),
		"target_address":         cty.StringVal("SMTP:" + routing),
		"recipient_type_details": mustNumber(RecipientTypeRemoteUserMailbox),
		"remote_recipient_type":  mustNumber(remoteType),
		"recipient_display_type": mustNumber(RecipientDisplayTypeRemoteMailbox),
	}
	proxies, ok := steps.Attr(call.Config, "proxy_addresses")
	if !ok {
		proxies = current.GetAttr("proxy_addresses")
	}
	var list []string
	hasRouting := false
	for it := proxies.ElementIterator(); it.Next(); {
		_, p := it.Element()
		list = append(list, p.AsString())
		if strings.EqualFold(p.AsString(), "smtp:"+routing) {
			hasRouting = true
		}
	}
	if !hasRouting {
		list = append(list, "smtp:"+routing)
	}
	sort.Strings(list)
	want["proxy_addresses"] = steps.StringList(list)
	for field, arg := range map[string]string{"exchange_guid": "exchange_guid", "archive_guid": "archive_guid"} {
		if s, ok := steps.String(call.Config, arg); ok {
			g, err := anchor.ParseGUID(s)
			if err != nil {
				return nil, steps.Permanent(fmt.Errorf("ad: %s: %s: %w", call.Address, arg, err))
			}
			want[field] = cty.StringVal(g.String())
		}
	}
	return want, nil
}

func mustNumber(s string) cty.Value {
	v, err := cty.ParseNumberVal(s)
	if err != nil {
		panic("ad: bad constant " + s)
	}
	return v
}

// fieldBytes returns the LDAP values a field's cty value stands for.
func fieldBytes(f mailboxField, v cty.Value) ([][]byte, error) {
	if v.IsNull() {
		return nil, nil
	}
	switch {
	case v.Type() == cty.Number:
		i, _ := v.AsBigFloat().Int(new(big.Int))
		return [][]byte{[]byte(i.String())}, nil
	case isGUIDAttribute(f.attr):
		g, err := anchor.ParseGUID(v.AsString())
		if err != nil {
			return nil, err
		}
		return [][]byte{g.Bytes()}, nil
	case v.Type().IsListType():
		var out [][]byte
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, []byte(e.AsString()))
		}
		return out, nil
	}
	return [][]byte{[]byte(v.AsString())}, nil
}

// onPremisesMailboxTypes are the msExchRecipientTypeDetails bits of a
// mailbox hosted by on-premises Exchange: UserMailbox 0x1, LinkedMailbox
// 0x2, SharedMailbox 0x4, LegacyMailbox 0x8, RoomMailbox 0x10,
// EquipmentMailbox 0x20. The names and their order are Exchange's
// RecipientTypeDetails flags enumeration
// (https://learn.microsoft.com/previous-versions/office/developer/exchange-server-2010/ff344739(v=exchg.140));
// the numeric values are those Microsoft's community answer "Recipient type
// values" lists (answers.microsoft.com, msoffice_o365admin-mso_exchon,
// 7c2620e5-9870-48ba-b5c2-7772c739c651), not a reference page.
const onPremisesMailboxTypes = 0x3f

// hasOnPremisesMailbox reports whether the observed user has a mailbox
// hosted on premises, and its msExchRecipientTypeDetails.
func hasOnPremisesMailbox(user cty.Value) (bool, int64) {
	v := user.GetAttr("recipient_type_details")
	if v.IsNull() || !v.IsKnown() {
		return false, 0
	}
	n, _ := v.AsBigFloat().Int64()
	return n&onPremisesMailboxTypes != 0, n
}

func (remoteMailboxStep) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	cur := obs.Value
	// A user whose mailbox is on premises is not made a remote mailbox by
	// overwriting its attributes: its mailbox would be orphaned and mail
	// split between two mailboxes. Exchange moves it (a remote move), and
	// Enable-RemoteMailbox is for "an existing user in the on-premises
	// Active Directory" without a mailbox
	// (https://learn.microsoft.com/powershell/module/exchangepowershell/enable-remotemailbox).
	if on, n := hasOnPremisesMailbox(cur); on {
		return steps.Change{}, steps.Permanent(fmt.Errorf("ad: %s: %s has a mailbox on premises (msExchRecipientTypeDetails %d); "+
			"ad_remote_mailbox does not overwrite it. Move the mailbox to Exchange Online (a remote move migration), or, if the "+
			"on-premises mailbox is to be given up, disable it with Disable-Mailbox first, then run again",
			call.Address, cur.GetAttr("dn").AsString(), n))
	}
	want, err := desiredMailbox(call, cur)
	if err != nil {
		return steps.Change{}, err
	}
	before, after := map[string]cty.Value{}, map[string]cty.Value{}
	p := mailboxPrivate{DN: cur.GetAttr("dn").AsString(), GUID: cur.GetAttr("object_guid").AsString()}
	for _, f := range mailboxFields {
		w, decided := want[f.field]
		if !decided {
			continue
		}
		have := cur.GetAttr(f.field)
		hb, err := fieldBytes(f, have)
		if err != nil {
			return steps.Change{}, err
		}
		wb, err := fieldBytes(f, w)
		if err != nil {
			return steps.Change{}, err
		}
		if sameValues(hb, wb) {
			continue
		}
		before[f.field], after[f.field] = have, w
		p.Changes = append(p.Changes, mailboxChange{Attribute: f.attr, Before: hb, After: wb})
	}
	if shell, _ := steps.Strings(call.Config, "exchange_shell"); len(shell) > 0 {
		if _, ok := steps.Attr(call.Config, "proxy_addresses"); ok {
			return steps.Change{}, steps.Permanent(fmt.Errorf("ad: %s: proxy_addresses is for the LDAP writes; with exchange_shell Exchange's email address policy sets them", call.Address))
		}
		if _, ok := steps.Attr(call.Config, "new_mailbox"); ok {
			return steps.Change{}, steps.Permanent(fmt.Errorf("ad: %s: new_mailbox is for the LDAP writes; with exchange_shell Enable-RemoteMailbox sets the recipient type", call.Address))
		}
		if p.Cmdlets, err = remoteMailboxCmdlets(call, cur, want); err != nil {
			return steps.Change{}, err
		}
		// Show what the cmdlets set from the step's values; Exchange sets
		// the rest (recipient types, proxy addresses) its own way.
		for _, f := range []string{"remote_recipient_type", "recipient_display_type", "proxy_addresses"} {
			delete(before, f)
			delete(after, f)
		}
		p.Changes = nil
		for _, f := range mailboxFields {
			hb, err := fieldBytes(f, cur.GetAttr(f.field))
			if err != nil {
				return steps.Change{}, err
			}
			p.Restore = append(p.Restore, mailboxChange{Attribute: f.attr, Before: hb})
		}
		if len(p.Cmdlets) == 0 {
			before, after = map[string]cty.Value{}, map[string]cty.Value{}
		}
	}
	change := steps.Change{Action: steps.Update, Before: cty.ObjectVal(before), After: cty.ObjectVal(after)}
	if len(p.Changes) == 0 && len(p.Cmdlets) == 0 {
		change.Action = steps.NoOp
		change.Before, change.After = cty.EmptyObjectVal, cty.EmptyObjectVal
	}
	change.Private, err = json.Marshal(p)
	return change, err
}

func (remoteMailboxStep) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	return steps.Result{}, writeMailbox(ctx, call, change, false)
}

// Revert writes back the values the changed attributes had before Apply.
func (remoteMailboxStep) Revert(ctx context.Context, call steps.Call, change steps.Change) error {
	return writeMailbox(ctx, call, change, true)
}

// writeMailbox sends the changed attributes in one Modify, so that the user
// is never left half a remote mailbox.
func writeMailbox(ctx context.Context, call steps.Call, change steps.Change, back bool) error {
	if change.Action == steps.NoOp {
		return nil
	}
	var p mailboxPrivate
	if err := json.Unmarshal(change.Private, &p); err != nil || p.DN == "" {
		return fmt.Errorf("ad: %s: the recorded change carries no object (%v)", call.Address, err)
	}
	changes := p.Changes
	if len(p.Cmdlets) > 0 {
		if !back {
			shell, _ := steps.Strings(call.Config, "exchange_shell")
			if len(shell) == 0 || shell[0] == "" {
				return steps.Permanent(fmt.Errorf("ad: %s: the plan runs Exchange cmdlets but the step has no exchange_shell", call.Address))
			}
			for _, script := range p.Cmdlets {
				if err := runExchangeShell(ctx, shell, script); err != nil {
					return fmt.Errorf("ad: %s: %s: %w", call.Address, strings.SplitN(script, " ", 2)[0], err)
				}
			}
			return nil
		}
		changes = p.Restore
	}
	d, err := directory(call)
	if err != nil {
		return err
	}
	req := ldap.NewModifyRequest(p.DN, nil)
	var names []string
	for _, c := range changes {
		values := c.After
		if back {
			values = c.Before
		}
		req.Replace(c.Attribute, byteStrings(values))
		names = append(names, c.Attribute)
	}
	return wrapErr(d.Modify(req), "modify", p.DN, strings.Join(names, ", "))
}

// validAlias reports whether s is an alias Exchange accepts: "The value
// of Alias can contain letters, numbers and the characters !, #, $, %, &,
// ', *, +, -, /, =, ?, ^, _, `, {, |, } and ~. Periods (.) are allowed,
// but each period must be surrounded by other valid characters ...
// Unicode characters from U+00A1 to U+00FF are also allowed. The maximum
// length of the Alias value is 64 characters"
// (learn.microsoft.com/powershell/module/exchangepowershell/enable-remotemailbox,
// -Alias). The alias goes into Exchange's cmdlets, so nothing else
// reaches a script.
func validAlias(s string) bool {
	runes := []rune(s)
	if len(runes) == 0 || len(runes) > 64 {
		return false
	}
	for i, r := range runes {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r >= 0xA1 && r <= 0xFF,
			strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r):
		case r == '.':
			if i == 0 || i == len(runes)-1 || runes[i+1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// validDomain reports whether s is a DNS domain name: labels of letters,
// digits and hyphens, neither starting nor ending with a hyphen, at most
// 63 characters each and 253 in all, joined by periods (RFC 1123 2.1,
// RFC 1035 2.3.1).
func validDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
