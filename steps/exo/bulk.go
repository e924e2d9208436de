package exo

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/steps"
)

// Bulk observation (steps.BulkObserver) for the step types that read one
// mailbox or the recipients of one identity per instance. A fan-out's
// identities are read with filtered Get-Mailbox / Get-Recipient calls,
// "Property -eq 'Value'" criteria chained with -or, as the -Filter
// parameter of both cmdlets documents
// (https://learn.microsoft.com/powershell/module/exchangepowershell/get-mailbox,
// .../get-recipient; the properties and the cmdlets that filter on each:
// "Filterable properties for the Filter parameter",
// https://learn.microsoft.com/powershell/exchange/filter-properties), or
// with one paged listing of every mailbox (recipient) when that costs fewer
// requests, as when the fan-out covers the tenant. The listing is cut short
// once it has cost as many pages as the filters would, and the filters are
// sent instead, so a bulk read never costs more than twice the cheaper way.
//
// What a bulk read found is matched back to each instance by the identities
// Observe documents (ExchangeGuid, ArchiveGuid, ExchangeObjectId, the
// user's object id; UPN or an e-mail address). An instance whose identity
// is neither a GUID nor an address (an alias, a name), or that the bulk
// read found no recipient for or, for a mailbox, more than one, is observed
// on its own, which reports "not found" and "ambiguous" as it always has.

// filterChunk is how many identities one filtered read names. A GUID is
// four criteria (ExchangeGuid, ArchiveGuid, ExternalDirectoryObjectId,
// Guid), an address two (UserPrincipalName, EmailAddresses). No Microsoft
// page found states a limit on the length of a -Filter; 50 identities make
// a filter of about 12,000 characters. A variable so that tests can make it
// small.
var filterChunk = 50

// bulkKind is how an identity is read in bulk: "guid", "address" or ""
// (observed on its own).
func bulkKind(id string) string {
	if _, err := anchor.ParseGUID(id); err == nil {
		return "guid"
	}
	if strings.Contains(id, "@") && !strings.ContainsAny(id, " \t") {
		return "address"
	}
	return ""
}

// matchKey is what a recipient an identity names has in common with it.
func matchKey(id string) string {
	if g, err := anchor.ParseGUID(id); err == nil {
		return "guid:" + g.String()
	}
	return "addr:" + strings.ToLower(strings.TrimSpace(id))
}

// recipientKeys are the matchKeys of every identity that names r.
func recipientKeys(r recipient) []string {
	var out []string
	for _, g := range []string{r.ExchangeGUID, r.ArchiveGUID, r.ExchangeObjectID, r.ExternalDirectoryObjectID, r.GUID} {
		if x, err := anchor.ParseGUID(g); err == nil && !x.IsZero() {
			out = append(out, "guid:"+x.String())
		}
	}
	for _, a := range append([]string{r.UserPrincipalName, r.PrimarySMTPAddress}, r.EmailAddresses...) {
		if _, addr, ok := strings.Cut(a, ":"); ok {
			a = addr
		}
		if a != "" {
			out = append(out, "addr:"+strings.ToLower(a))
		}
	}
	return out
}

// opathQuote encloses a text value in single quotation marks, doubling any
// inside it ("Additional OPATH syntax information",
// https://learn.microsoft.com/powershell/exchange/recipient-filters).
func opathQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// criteria are the -or'ed criteria that find the recipients id names with
// cmdlet; nil when cmdlet cannot filter on them (UserPrincipalName is not
// filterable on Get-Recipient).
func criteria(cmdlet, id string) []string {
	q := opathQuote(id)
	switch bulkKind(id) {
	case "guid":
		return []string{"ExchangeGuid -eq " + q, "ArchiveGuid -eq " + q, "ExternalDirectoryObjectId -eq " + q, "Guid -eq " + q}
	case "address":
		if cmdlet == "Get-Recipient" {
			return nil
		}
		return []string{"UserPrincipalName -eq " + q, "EmailAddresses -eq " + q}
	}
	return nil
}

// bulkRead holds what one bulk read found, by matchKey, and each recipient
// by "obj:" and its ExchangeObjectId, so that a recipient two filters both
// return is added once.
type bulkRead map[string][]recipient

// addAll decodes a cmdlet's output and adds every recipient in it.
func (b bulkRead) addAll(raw []json.RawMessage) error {
	l, err := decodeRecipients(raw)
	if err != nil {
		return err
	}
	for _, r := range l {
		b.add(r)
	}
	return nil
}

func (b bulkRead) add(r recipient) {
	if r.ExchangeObjectID != "" {
		for _, x := range b["obj:"+r.ExchangeObjectID] {
			if x.ExchangeObjectID == r.ExchangeObjectID {
				return
			}
		}
		b["obj:"+r.ExchangeObjectID] = []recipient{r}
	}
	seen := map[string]bool{}
	for _, k := range recipientKeys(r) {
		if !seen[k] {
			seen[k] = true
			b[k] = append(b[k], r)
		}
	}
}

// readBulk reads the recipients ids name with cmdlet and params (its
// switches), by listing or by filters, whichever costs fewer requests.
func (c *Client) readBulk(ctx context.Context, cmdlet string, params map[string]any, ids []string) (bulkRead, error) {
	found := bulkRead{}
	seen := map[string]bool{}
	var terms [][]string
	for _, id := range ids {
		if k := matchKey(id); !seen[k] && bulkKind(id) != "" {
			seen[k] = true
			if cr := criteria(cmdlet, id); cr != nil {
				terms = append(terms, cr)
			}
		}
	}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{"ResultSize": "Unlimited"}
		for k, v := range params {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	filters := (len(terms) + filterChunk - 1) / filterChunk
	listable := len(seen) > len(terms) // some identities only a listing matches
	if filters >= 2 || listable && len(seen) >= 2 {
		raw, complete, err := c.invokePages(ctx, cmdlet, with(nil), max(filters-1, 1))
		if err != nil {
			return nil, wrap(err, cmdlet+" (list)")
		}
		if complete {
			if err := found.addAll(raw); err != nil {
				return nil, err
			}
			return found, nil
		}
	}
	for len(terms) > 0 {
		n := min(len(terms), filterChunk)
		var all []string
		for _, t := range terms[:n] {
			all = append(all, t...)
		}
		terms = terms[n:]
		raw, err := c.Invoke(ctx, cmdlet, with(map[string]any{"Filter": strings.Join(all, " -or ")}))
		if err != nil {
			return nil, wrap(err, cmdlet+" -Filter")
		}
		if err := found.addAll(raw); err != nil {
			return nil, err
		}
	}
	return found, nil
}

// observeMailboxes is ObserveMany for the types that read one mailbox
// (exo_hold, exo_delay_hold): Get-Mailbox -IncludeInactiveMailbox in bulk;
// an identity that matches no mailbox or more than one, or that is not a
// GUID or an address, is observed alone (which also looks among
// soft-deleted mailboxes, and names the ambiguity).
func observeMailboxes(ctx context.Context, calls []steps.Call, single func(context.Context, steps.Call) (steps.Observation, error)) ([]steps.BulkResult, error) {
	return observeBulk(ctx, calls, "Get-Mailbox", map[string]any{"IncludeInactiveMailbox": true},
		func(_ *Client, call steps.Call, id string, l []recipient) (steps.Observation, error) {
			if bulkKind(id) != "" && len(l) == 1 {
				return steps.Observation{Object: "exo:mailbox:" + l[0].ExchangeObjectID, Value: recipientValue(l[0])}, nil
			}
			return single(ctx, call)
		})
}

// observeBulk reads the identities of a fan-out with one cmdlet in bulk
// (readBulk) and observes each instance with each from what was found for
// its identity; an instance whose identity steps.BulkCalls refused keeps
// its error.
func observeBulk(ctx context.Context, calls []steps.Call, cmdlet string, params map[string]any,
	each func(c *Client, call steps.Call, id string, found []recipient) (steps.Observation, error)) ([]steps.BulkResult, error) {
	c, ids, out, err := steps.BulkCalls[*Client](calls, "exo", identityArg)
	if err != nil || c == nil {
		return out, err
	}
	found, err := c.readBulk(ctx, cmdlet, params, ids)
	if err != nil {
		return nil, err
	}
	for i, call := range calls {
		if out[i].Err != nil {
			continue
		}
		out[i].Observation, out[i].Err = each(c, call, ids[i], found[matchKey(ids[i])])
	}
	return out, nil
}

// ObserveMany reads the mailboxes of a fan-out in bulk (steps.BulkObserver).
func (holdStep) ObserveMany(ctx context.Context, calls []steps.Call) ([]steps.BulkResult, error) {
	return observeMailboxes(ctx, calls, holdStep{}.Observe)
}

// ObserveMany reads the mailboxes of a fan-out in bulk (steps.BulkObserver).
func (delayHoldStep) ObserveMany(ctx context.Context, calls []steps.Call) ([]steps.BulkResult, error) {
	return observeMailboxes(ctx, calls, delayHoldStep{}.Observe)
}

// ObserveMany reads the recipients of a fan-out's identities in bulk with
// Get-Recipient -IncludeSoftDeletedRecipients (steps.BulkObserver). As
// Observe does, it reads the hold of each soft-deleted mailbox found with
// Get-Mailbox. An identity the bulk read found nothing for is observed
// alone.
func (purgeStep) ObserveMany(ctx context.Context, calls []steps.Call) ([]steps.BulkResult, error) {
	return observeBulk(ctx, calls, "Get-Recipient", map[string]any{"IncludeSoftDeletedRecipients": true},
		func(c *Client, call steps.Call, id string, l []recipient) (steps.Observation, error) {
			if bulkKind(id) == "" || len(l) == 0 {
				return purgeStep{}.Observe(ctx, call)
			}
			l = sortedByObjectID(l)
			c.readHolds(ctx, l)
			return steps.Observation{Object: "exo:recipient:" + anchor.ObjectKey(id), Value: recipientsValue(l)}, nil
		})
}

// sortedByObjectID is a copy of l in the order decodeRecipients gives.
func sortedByObjectID(l []recipient) []recipient {
	out := append([]recipient(nil), l...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].ExchangeObjectID < out[j].ExchangeObjectID })
	return out
}
