package exo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/steps"
)

// Roles the step types declare; `rebind plan` lists their union.
const (
	roleRead    = "Exchange: View-Only Recipients"
	roleWrite   = "Exchange: Mail Recipients"
	roleHold    = "Exchange: Legal Hold"
	roleAppOnly = "Entra: Office 365 Exchange Online Exchange.ManageAsApp (app-only sign-in)"
)

func init() {
	steps.RegisterData(recipientData{})
	steps.RegisterData(mailboxData{})
}

// recipient is what rebind reads of a mailbox or mail user.
type recipient struct {
	Identity                  string   `json:"Identity"`
	Alias                     string   `json:"Alias"`
	UserPrincipalName         string   `json:"UserPrincipalName"`
	PrimarySMTPAddress        string   `json:"PrimarySmtpAddress"`
	EmailAddresses            []string `json:"EmailAddresses"`
	ExchangeGUID              string   `json:"ExchangeGuid"`
	ArchiveGUID               string   `json:"ArchiveGuid"`
	ArchiveStatus             string   `json:"ArchiveStatus"`
	LitigationHoldEnabled     bool     `json:"LitigationHoldEnabled"`
	RecipientTypeDetails      string   `json:"RecipientTypeDetails"`
	ExternalDirectoryObjectID string   `json:"ExternalDirectoryObjectId"`
	ExchangeObjectID          string   `json:"ExchangeObjectId"`
	GUID                      string   `json:"Guid"`
	IsSoftDeletedByRemove     bool     `json:"IsSoftDeletedByRemove"`
	IsInactiveMailbox         bool     `json:"IsInactiveMailbox"`
	WhenSoftDeleted           *string  `json:"WhenSoftDeleted"`
	// The holds Get-Mailbox shows besides Litigation Hold
	// (learn.microsoft.com/purview/ediscovery-identify-a-hold-on-an-exchange-online-mailbox);
	// Get-Recipient leaves them out.
	InPlaceHolds             []string `json:"InPlaceHolds"`
	DelayHoldApplied         bool     `json:"DelayHoldApplied"`
	DelayReleaseHoldApplied  bool     `json:"DelayReleaseHoldApplied"`
	ComplianceTagHoldApplied bool     `json:"ComplianceTagHoldApplied"`
}

// SoftDeleted reports whether the recipient is soft-deleted (inactive
// mailboxes included).
func (r recipient) SoftDeleted() bool {
	return r.IsSoftDeletedByRemove || r.IsInactiveMailbox || (r.WhenSoftDeleted != nil && *r.WhenSoftDeleted != "")
}

// writeIdentity is the identity rebind names a recipient by when it writes:
// ExchangeObjectId is unique even where a soft-deleted and an active
// recipient share an address or a GUID.
func (r recipient) writeIdentity() string {
	if r.ExchangeObjectID != "" {
		return r.ExchangeObjectID
	}
	if r.GUID != "" {
		return r.GUID
	}
	return r.ExchangeGUID
}

// decodeRecipients reads cmdlet output.
func decodeRecipients(raw []json.RawMessage) ([]recipient, error) {
	out := make([]recipient, 0, len(raw))
	for _, r := range raw {
		var x recipient
		if err := json.Unmarshal(r, &x); err != nil {
			return nil, fmt.Errorf("exo: read a recipient: %w", err)
		}
		out = append(out, x)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ExchangeObjectID < out[j].ExchangeObjectID })
	return out, nil
}

// recipientType is the value of one recipient.
var recipientType = cty.Object(map[string]cty.Type{
	"identity":                     cty.String,
	"type":                         cty.String,
	"upn":                          cty.String,
	"primary_smtp_address":         cty.String,
	"email_addresses":              cty.List(cty.String),
	"exchange_guid":                cty.String,
	"archive_guid":                 cty.String,
	"archive_status":               cty.String,
	"exchange_object_id":           cty.String,
	"external_directory_object_id": cty.String,
	"soft_deleted":                 cty.Bool,
	"when_soft_deleted":            cty.String,
	"litigation_hold":              cty.Bool,
	"inactive":                     cty.Bool,
	"in_place_holds":               cty.List(cty.String),
	"delay_hold":                   cty.Bool,
	"delay_release_hold":           cty.Bool,
	"compliance_tag_hold":          cty.Bool,
})

// guidValue renders a GUID canonically; null for none or the zero GUID.
func guidValue(s string) cty.Value {
	g, err := anchor.ParseGUID(s)
	if err != nil || g.IsZero() {
		return cty.NullVal(cty.String)
	}
	return cty.StringVal(g.String())
}

func optString(s string) cty.Value {
	if s == "" {
		return cty.NullVal(cty.String)
	}
	return cty.StringVal(s)
}

func listOf(t cty.Type, l []cty.Value) cty.Value {
	if len(l) == 0 {
		return cty.ListValEmpty(t)
	}
	return cty.ListVal(l)
}

// softDeletedAt normalises WhenSoftDeleted to RFC 3339 in UTC.
func softDeletedAt(r recipient) cty.Value {
	if r.WhenSoftDeleted == nil || *r.WhenSoftDeleted == "" {
		return cty.NullVal(cty.String)
	}
	if t, err := time.Parse(time.RFC3339, *r.WhenSoftDeleted); err == nil {
		return cty.StringVal(t.UTC().Format(time.RFC3339))
	}
	return cty.StringVal(*r.WhenSoftDeleted)
}

func recipientValue(r recipient) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"identity":                     cty.StringVal(r.Identity),
		"type":                         cty.StringVal(r.RecipientTypeDetails),
		"upn":                          optString(r.UserPrincipalName),
		"primary_smtp_address":         optString(r.PrimarySMTPAddress),
		"email_addresses":              steps.StringList(r.EmailAddresses),
		"exchange_guid":                guidValue(r.ExchangeGUID),
		"archive_guid":                 guidValue(r.ArchiveGUID),
		"archive_status":               optString(r.ArchiveStatus),
		"exchange_object_id":           cty.StringVal(r.ExchangeObjectID),
		"external_directory_object_id": optString(r.ExternalDirectoryObjectID),
		"soft_deleted":                 cty.BoolVal(r.SoftDeleted()),
		"when_soft_deleted":            softDeletedAt(r),
		"litigation_hold":              cty.BoolVal(r.LitigationHoldEnabled),
		"inactive":                     cty.BoolVal(r.IsInactiveMailbox),
		"in_place_holds":               steps.StringList(r.InPlaceHolds),
		"delay_hold":                   cty.BoolVal(r.DelayHoldApplied),
		"delay_release_hold":           cty.BoolVal(r.DelayReleaseHoldApplied),
		"compliance_tag_hold":          cty.BoolVal(r.ComplianceTagHoldApplied),
	})
}

// objectKey names an object by an identity that may be personal data (an
// address): a GUID stays as it is, anything else becomes a digest, so that
// object names in plans, locks and the journal carry no PII.
func objectKey(identity string) string {
	identity = strings.ToLower(strings.TrimSpace(identity))
	if _, err := anchor.ParseGUID(identity); err == nil {
		return identity
	}
	sum := sha256.Sum256([]byte(identity))
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// identityArg reads the call's identity, normalising a GUID.
func identityArg(call steps.Call) (string, error) {
	id, ok := steps.String(call.Config, "identity")
	if !ok || strings.TrimSpace(id) == "" {
		return "", steps.Permanent(fmt.Errorf("exo: %s: identity is required", call.Address))
	}
	if g, err := anchor.ParseGUID(id); err == nil {
		return g.String(), nil
	}
	return strings.TrimSpace(id), nil
}

// identityCall returns the call's target and its `identity`, what every
// type that reads recipients by identity starts with.
func identityCall(call steps.Call) (*Client, string, error) {
	c, err := client(call)
	if err != nil {
		return nil, "", err
	}
	id, err := identityArg(call)
	return c, id, err
}

// recipients runs Get-Recipient -IncludeSoftDeletedRecipients; none found
// is an empty list.
func (c *Client) recipients(ctx context.Context, identity string) ([]recipient, error) {
	raw, err := c.Invoke(ctx, "Get-Recipient", map[string]any{"Identity": identity, "IncludeSoftDeletedRecipients": true})
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(err, "find recipient "+identity)
	}
	return decodeRecipients(raw)
}

// mailboxes reads the mailboxes identity names: active and inactive ones,
// then soft-deleted ones when there are none.
func (c *Client) mailboxes(ctx context.Context, identity string) ([]recipient, error) {
	raw, err := c.Invoke(ctx, "Get-Mailbox", map[string]any{"Identity": identity, "IncludeInactiveMailbox": true})
	if isNotFound(err) {
		raw, err = c.Invoke(ctx, "Get-Mailbox", map[string]any{"Identity": identity, "SoftDeletedMailbox": true})
		if isNotFound(err) {
			return nil, nil
		}
	}
	if err != nil {
		return nil, wrap(err, "read mailbox "+identity)
	}
	return decodeRecipients(raw)
}

// recipientData is the exo_recipient data type.
type recipientData struct{}

func (recipientData) Info() steps.Info {
	return steps.Info{
		Name: "exo_recipient",
		Doc: "Finds the recipients (mailboxes and mail users, soft-deleted ones included) an identity names: a GUID " +
			"(ExchangeGuid, ArchiveGuid, ExchangeObjectId or the user's object id) or an address, as " +
			"Get-Recipient -IncludeSoftDeletedRecipients does. The value has `recipients`, `count` and `found`: use it " +
			"to find the object that holds a GUID an Exchange validation error names.",
		Kind:   steps.KindData,
		Target: "exo",
		Schema: steps.Schema{
			"identity": {Type: cty.String, Required: true, PII: true, Doc: "A GUID or an address."},
		},
		Reversibility: steps.Reversible,
		Permissions:   []string{roleRead, roleAppOnly},
	}
}

func recipientsValue(l []recipient) cty.Value {
	vals := make([]cty.Value, len(l))
	for i, r := range l {
		vals[i] = recipientValue(r)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"recipients": listOf(recipientType, vals),
		"count":      cty.NumberIntVal(int64(len(l))),
		"found":      cty.BoolVal(len(l) > 0),
	})
}

func (recipientData) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	return observeRecipients(ctx, call, false)
}

// observeRecipients observes the recipients the call's identity names, as
// exo_recipient reads them; with holds, also each soft-deleted mailbox's
// hold (readHolds), which exo_recipient_purge reads too.
func observeRecipients(ctx context.Context, call steps.Call, holds bool) (steps.Observation, error) {
	c, id, err := identityCall(call)
	if err != nil {
		return steps.Observation{}, err
	}
	l, err := c.recipients(ctx, id)
	if err != nil {
		return steps.Observation{}, err
	}
	if holds {
		c.readHolds(ctx, l)
	}
	return steps.Observation{Object: "exo:recipient:" + objectKey(id), Value: recipientsValue(l)}, nil
}

// mailboxData is the exo_mailbox data type.
type mailboxData struct{}

func (mailboxData) Info() steps.Info {
	return steps.Info{
		Name: "exo_mailbox",
		Doc: "Reads one mailbox (active, inactive or soft-deleted) by UPN, address or GUID: its ExchangeGuid and " +
			"ArchiveGuid (to write on premises as msExchMailboxGuid and msExchArchiveGUID), archive status and " +
			"its holds: litigation_hold, in_place_holds (eDiscovery holds UniH..., retention policies mbx.../skp..., " +
			"In-Place Holds; -mbx... is an exclusion), delay_hold and delay_release_hold (DelayHoldApplied, " +
			"DelayReleaseHoldApplied) and compliance_tag_hold (ComplianceTagHoldApplied).",
		Kind:   steps.KindData,
		Target: "exo",
		Schema: steps.Schema{
			"identity": {Type: cty.String, Required: true, PII: true, Doc: "The mailbox's UPN, address, alias or a GUID."},
		},
		Reversibility: steps.Reversible,
		Permissions:   []string{roleRead, roleAppOnly},
	}
}

// oneMailbox reads the single mailbox identity names.
func (c *Client) oneMailbox(ctx context.Context, address, identity string) (recipient, error) {
	l, err := c.mailboxes(ctx, identity)
	if err != nil {
		return recipient{}, err
	}
	switch len(l) {
	case 0:
		return recipient{}, fmt.Errorf("exo: %s: mailbox %s: %w", address, identity, steps.ErrNotFound)
	case 1:
		return l[0], nil
	}
	ids := make([]string, len(l))
	for i, r := range l {
		ids[i] = r.ExchangeObjectID
	}
	return recipient{}, steps.Permanent(fmt.Errorf("exo: %s: %d mailboxes match %s (ExchangeObjectId %s); name one by ExchangeObjectId",
		address, len(l), identity, strings.Join(ids, ", ")))
}

func (mailboxData) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	c, id, err := identityCall(call)
	if err != nil {
		return steps.Observation{}, err
	}
	r, err := c.oneMailbox(ctx, call.Address, id)
	if err != nil {
		return steps.Observation{}, err
	}
	return steps.Observation{Object: "exo:mailbox:" + r.ExchangeObjectID, Value: recipientValue(r)}, nil
}
