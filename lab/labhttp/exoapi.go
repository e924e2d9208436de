package labhttp

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rebind-dev/rebind/lab"
)

// exoPageSize is how many objects one InvokeCommand answer carries before
// it sends @odata.nextLink.
const exoPageSize = 1000

// exoRecipient is a recipient as the Exchange admin API returns it.
type exoRecipient struct {
	Identity                  string   `json:"Identity"`
	Name                      string   `json:"Name"`
	Alias                     string   `json:"Alias"`
	DisplayName               string   `json:"DisplayName"`
	UserPrincipalName         string   `json:"UserPrincipalName"`
	PrimarySMTPAddress        string   `json:"PrimarySmtpAddress"`
	EmailAddresses            []string `json:"EmailAddresses"`
	ExchangeGUID              string   `json:"ExchangeGuid"`
	ArchiveGUID               string   `json:"ArchiveGuid"`
	ArchiveStatus             string   `json:"ArchiveStatus"`
	LitigationHoldEnabled     bool     `json:"LitigationHoldEnabled"`
	RecipientType             string   `json:"RecipientType"`
	RecipientTypeDetails      string   `json:"RecipientTypeDetails"`
	ExternalDirectoryObjectID string   `json:"ExternalDirectoryObjectId"`
	ExchangeObjectID          string   `json:"ExchangeObjectId"`
	GUID                      string   `json:"Guid"`
	IsSoftDeletedByRemove     bool     `json:"IsSoftDeletedByRemove"`
	IsInactiveMailbox         bool     `json:"IsInactiveMailbox"`
	WhenSoftDeleted           *string  `json:"WhenSoftDeleted"`
	// The hold properties Get-Mailbox shows (learn.microsoft.com/purview/
	// ediscovery-identify-a-hold-on-an-exchange-online-mailbox).
	InPlaceHolds             []string `json:"InPlaceHolds"`
	DelayHoldApplied         bool     `json:"DelayHoldApplied"`
	DelayReleaseHoldApplied  bool     `json:"DelayReleaseHoldApplied"`
	ComplianceTagHoldApplied bool     `json:"ComplianceTagHoldApplied"`
}

func toExo(r *lab.Recipient) exoRecipient {
	out := exoRecipient{Identity: r.Alias, Name: r.Alias, Alias: r.Alias, DisplayName: r.DisplayName, UserPrincipalName: r.UserPrincipalName,
		PrimarySMTPAddress: r.PrimarySMTPAddress, EmailAddresses: nonNil(r.EmailAddresses), ExchangeGUID: r.ExchangeGUID.String(),
		ArchiveGUID: r.ArchiveGUID.String(), ArchiveStatus: "None", LitigationHoldEnabled: r.LitigationHoldEnabled,
		RecipientType: string(r.RecipientTypeDetails), RecipientTypeDetails: string(r.RecipientTypeDetails),
		ExternalDirectoryObjectID: r.ExternalDirectoryObjectID, ExchangeObjectID: r.ExchangeObjectID, GUID: r.ExchangeObjectID,
		IsSoftDeletedByRemove: r.SoftDeleted(), IsInactiveMailbox: r.SoftDeleted() && len(r.Holds()) > 0,
		WhenSoftDeleted: graphTime(r.WhenSoftDeleted), InPlaceHolds: nonNil(r.InPlaceHolds), DelayHoldApplied: r.DelayHoldApplied,
		DelayReleaseHoldApplied: r.DelayReleaseHoldApplied, ComplianceTagHoldApplied: r.ComplianceTagHoldApplied}
	if !r.ArchiveGUID.IsZero() {
		out.ArchiveStatus = "Active"
	}
	if r.SoftDeleted() {
		out.Identity = `Soft Deleted Objects\` + r.Alias
	}
	return out
}

// cmdletParams holds a cmdlet's parameters as sent; bind checks them
// before the cmdlet runs.
type cmdletParams map[string]json.RawMessage

// The parameters the lab's cmdlets bind, by kind; others are ignored.
var (
	stringParams = []string{"Identity", "RecipientTypeDetails", "Filter", "ResultSize"}
	switchParams = []string{"SoftDeletedMailbox", "IncludeInactiveMailbox", "InactiveMailboxOnly", "SoftDeletedMailUser",
		"IncludeSoftDeletedRecipients", "PermanentlyDelete", "LitigationHoldEnabled", "Confirm", "InactiveMailbox",
		"RemoveDelayHoldApplied", "RemoveDelayReleaseHoldApplied"}
)

// bind checks the parameters as PowerShell binds them before a cmdlet
// runs: each is named once (names are not case-sensitive), a string
// parameter is a string, a switch is true or false ($true, $false). The
// lab refuses what it cannot bind rather than guess: an array sent as an
// Identity is not an identity.
func (p cmdletParams) bind() error {
	seen := map[string]string{}
	for k, v := range p {
		if prev, dup := seen[strings.ToLower(k)]; dup {
			return fmt.Errorf("Cannot bind parameter because parameter '%s' is specified more than once (%s, %s).", k, prev, k)
		}
		seen[strings.ToLower(k)] = k
		switch {
		case containsFold(stringParams, k):
			var s string
			if json.Unmarshal(v, &s) != nil {
				return fmt.Errorf("Cannot process argument transformation on parameter '%s': a string is expected.", k)
			}
		case containsFold(switchParams, k):
			if _, ok := switchValue(v); !ok {
				return fmt.Errorf("Cannot process argument transformation on parameter '%s': a switch is $true or $false.", k)
			}
		}
	}
	return nil
}

// switchValue reads a switch: a JSON boolean or "true", "false", "$true",
// "$false".
func switchValue(v json.RawMessage) (value, ok bool) {
	if json.Unmarshal(v, &value) == nil {
		return value, true
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		switch strings.ToLower(s) {
		case "true", "$true":
			return true, true
		case "false", "$false":
			return false, true
		}
	}
	return false, false
}

// str returns a string parameter, "" when absent.
func (p cmdletParams) str(name string) string {
	for k, v := range p {
		if strings.EqualFold(k, name) {
			var s string
			_ = json.Unmarshal(v, &s)
			return s
		}
	}
	return ""
}

// flag returns a switch parameter and whether it was given.
func (p cmdletParams) flag(name string) (value, present bool) {
	for k, v := range p {
		if strings.EqualFold(k, name) {
			value, _ = switchValue(v)
			return value, true
		}
	}
	return false, false
}

// exoErrorBody is the admin API's error answer as its public clients read
// it. Microsoft documents no schema for InvokeCommand; CIPP-API's
// New-ExoRequest (github.com/KelvinTegelaar/CIPP-API,
// Modules/CIPPCore/Public/GraphHelper/New-ExoRequest.ps1) takes the
// cmdlet's message from error.details[].message, else from
// error.innererror.internalException.message, and only last from
// error.message, which is the shape of Microsoft's REST API guidelines'
// error object (details: an array of errors; innererror: nested).
type exoErrorBody struct {
	Error struct {
		Code       string           `json:"code"`
		Message    string           `json:"message"`
		Details    []exoErrorDetail `json:"details"`
		InnerError *exoInnerError   `json:"innererror,omitempty"`
	} `json:"error"`
}

type exoErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target"`
}

type exoInnerError struct {
	Message           string         `json:"message"`
	Type              string         `json:"type"`
	InternalException *exoInnerError `json:"internalException,omitempty"`
}

// exoError writes an Exchange error the way the admin API reports a
// cmdlet's exception: the "|type|text" of the exception in details[] and in
// innererror.internalException, and a general message on top (its text is
// the lab's own: no public source shows the service's).
func exoError(w http.ResponseWriter, status int, exception, msg string) {
	typ := "Microsoft.Exchange.Management.Tasks." + exception
	if strings.Contains(exception, ".") {
		typ = exception
		exception = exception[strings.LastIndexByte(exception, '.')+1:]
	}
	var b exoErrorBody
	b.Error.Code = exception
	b.Error.Message = "The cmdlet failed."
	b.Error.Details = []exoErrorDetail{{Code: exception, Message: "|" + typ + "|" + msg}}
	b.Error.InnerError = &exoInnerError{Message: "The cmdlet failed.", Type: "System.Management.Automation.CmdletInvocationException",
		InternalException: &exoInnerError{Message: msg, Type: typ}}
	writeJSON(w, status, b)
}

// invokeCommand serves POST /adminapi/beta/{tenant}/InvokeCommand.
func (s *Server) invokeCommand(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.PathValue("tenant"), s.t.Config().TenantDomain) && !strings.EqualFold(r.PathValue("tenant"), s.t.Organization().ID) {
		writeError(w, http.StatusNotFound, "TenantNotFound", "The lab serves tenant "+s.t.Config().TenantDomain+", not "+r.PathValue("tenant")+".")
		return
	}
	var req struct {
		CmdletInput struct {
			CmdletName string       `json:"CmdletName"`
			Parameters cmdletParams `json:"Parameters"`
		} `json:"CmdletInput"`
	}
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "BadRequest", "The body is not a CmdletInput: "+err.Error())
		return
	}
	p := req.CmdletInput.Parameters
	if err := p.bind(); err != nil {
		exoError(w, http.StatusBadRequest, "System.Management.Automation.ParameterBindingException", err.Error())
		return
	}
	id := p.str("Identity")
	var filter exoFilter
	if src := p.str("Filter"); src != "" {
		switch cmdlet := strings.ToLower(req.CmdletInput.CmdletName); cmdlet {
		case "get-mailbox", "get-mailuser", "get-recipient":
			var err error
			if filter, err = parseExoFilter(cmdlet, src); err != nil {
				exoError(w, http.StatusBadRequest, "System.Management.Automation.ParameterBindingException",
					"Cannot bind parameter 'Filter' to the target. "+err.Error())
				return
			}
		}
	}
	switch name := req.CmdletInput.CmdletName; strings.ToLower(name) {
	case "get-mailbox":
		q := lab.RecipientQuery{Identity: id, Type: lab.UserMailbox}
		q.SoftDeletedOnly, _ = p.flag("SoftDeletedMailbox")
		if inactive, _ := p.flag("InactiveMailboxOnly"); inactive {
			q.SoftDeletedOnly = true
		}
		if inc, _ := p.flag("IncludeInactiveMailbox"); inc {
			q.IncludeSoftDeleted = true
		}
		s.exoList(w, r, q, filter)
	case "get-mailuser":
		q := lab.RecipientQuery{Identity: id, Type: lab.MailUser}
		q.SoftDeletedOnly, _ = p.flag("SoftDeletedMailUser")
		s.exoList(w, r, q, filter)
	case "get-recipient":
		q := lab.RecipientQuery{Identity: id, Type: lab.RecipientType(p.str("RecipientTypeDetails"))}
		q.IncludeSoftDeleted, _ = p.flag("IncludeSoftDeletedRecipients")
		s.exoList(w, r, q, filter)
	case "remove-mailbox", "remove-mailuser":
		typ := lab.UserMailbox
		if strings.EqualFold(name, "Remove-MailUser") {
			typ = lab.MailUser
		}
		if perm, _ := p.flag("PermanentlyDelete"); !perm {
			exoError(w, http.StatusBadRequest, "RecipientTaskException",
				"The lab removes only soft-deleted recipients, with -PermanentlyDelete; an active one goes when its license or its user does.")
			return
		}
		if err := s.t.RemoveRecipient(id, typ); err != nil {
			s.exoModelError(w, id, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": []exoRecipient{}})
	case "set-mailbox":
		// -RemoveDelayHoldApplied / -RemoveDelayReleaseHoldApplied lift a
		// delay hold (learn.microsoft.com/purview/
		// ediscovery-identify-a-hold-on-an-exchange-online-mailbox).
		delayHold, _ := p.flag("RemoveDelayHoldApplied")
		delayRelease, _ := p.flag("RemoveDelayReleaseHoldApplied")
		hold, ok := p.flag("LitigationHoldEnabled")
		switch {
		case (delayHold || delayRelease) && !ok:
			if _, err := s.t.RemoveDelayHold(id, delayHold, delayRelease); err != nil {
				s.exoModelError(w, id, err)
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"value": []exoRecipient{}})
			return
		case !ok || delayHold || delayRelease:
			exoError(w, http.StatusBadRequest, "RecipientTaskException",
				"The lab's Set-Mailbox sets -LitigationHoldEnabled, or removes delay holds with -RemoveDelayHoldApplied / -RemoveDelayReleaseHoldApplied, one at a time.")
			return
		}
		if _, err := s.t.SetLitigationHold(id, hold); err != nil {
			s.exoModelError(w, id, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": []exoRecipient{}})
	default:
		exoError(w, http.StatusBadRequest, "System.Management.Automation.CommandNotFoundException",
			fmt.Sprintf("The term '%s' is not recognized as a cmdlet the lab serves (Get-Mailbox, Get-MailUser, Get-Recipient, Remove-Mailbox, Remove-MailUser, Set-Mailbox).", name))
	}
}

// exoList answers a Get- cmdlet, a page at a time. A listing longer than
// a page is read once, at its first page, and its next pages are served
// from that reading through the opaque $skiptoken of @odata.nextLink (the
// id of the reading and the offset), so paging 100,000 mailboxes does not
// select and sort them all again for every page, and the pages of one
// listing agree with each other.
//
// filter, when not nil, is the cmdlet's -Filter (exo_filter.go): the
// listing holds the recipients both it and q select.
func (s *Server) exoList(w http.ResponseWriter, r *http.Request, q lab.RecipientQuery, filter exoFilter) {
	var page []lab.Recipient
	var total, skip int
	var id string
	if tok := r.URL.Query().Get("$skiptoken"); tok != "" {
		var ok bool
		if id, skip, page, total, ok = s.listings.next(tok, exoPageSize); !ok {
			exoError(w, http.StatusBadRequest, "InvalidSkipToken",
				"The $skiptoken is not one of a listing this lab is paging (it expired, or was served whole).")
			return
		}
	} else {
		all, n := s.t.RecipientsPage(q, 0, math.MaxInt)
		if q.Identity != "" && n == 0 {
			exoError(w, http.StatusNotFound, "ManagementObjectNotFoundException",
				fmt.Sprintf("The operation couldn't be performed because object '%s' couldn't be found on 'lab'.", q.Identity))
			return
		}
		if filter != nil {
			kept := all[:0]
			for i := range all {
				if filter(&all[i]) {
					kept = append(kept, all[i])
				}
			}
			all, n = kept, len(kept)
		}
		total, page = n, all
		if len(all) > exoPageSize {
			id, page = s.listings.start(all), all[:exoPageSize]
		}
	}
	resp := map[string]any{"@odata.context": baseURL(r) + r.URL.Path + "/$metadata#Collection(Exchange.GenericHashTable)", "adminapi.warnings": []string{}}
	if skip+len(page) < total {
		next := url.Values{"$skiptoken": {id + ":" + strconv.Itoa(skip+exoPageSize)}}
		resp["@odata.nextLink"] = baseURL(r) + r.URL.Path + "?" + next.Encode()
	}
	out := make([]exoRecipient, len(page))
	for i := range page {
		out[i] = toExo(&page[i])
	}
	resp["value"] = out
	writeJSON(w, http.StatusOK, resp)
}

// exoListings are the Exchange listings being paged: at most
// maxListings, each kept until its last page is served or it is
// listingLife old (wall clock).
type exoListings struct {
	mu   sync.Mutex
	seq  int
	byID map[string]*exoListing
}

type exoListing struct {
	all     []lab.Recipient
	started time.Time
}

const (
	maxListings = 16
	listingLife = 10 * time.Minute
)

// start keeps all and returns its id.
func (l *exoListings) start(all []lab.Recipient) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byID == nil {
		l.byID = map[string]*exoListing{}
	}
	now := time.Now()
	var oldest string
	for id, x := range l.byID {
		if now.Sub(x.started) > listingLife {
			delete(l.byID, id)
		} else if oldest == "" || x.started.Before(l.byID[oldest].started) {
			oldest = id
		}
	}
	if len(l.byID) >= maxListings && oldest != "" {
		delete(l.byID, oldest)
	}
	l.seq++
	id := "L" + strconv.Itoa(l.seq)
	l.byID[id] = &exoListing{all: all, started: now}
	return id
}

// next returns the page of listing tok ("id:offset") names.
func (l *exoListings) next(tok string, size int) (id string, skip int, page []lab.Recipient, total int, ok bool) {
	id, off, found := strings.Cut(tok, ":")
	skip, err := strconv.Atoi(off)
	if !found || err != nil || skip < 0 {
		return "", 0, nil, 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	x := l.byID[id]
	if x == nil || skip > len(x.all) {
		return "", 0, nil, 0, false
	}
	page = x.all[skip:min(skip+size, len(x.all))]
	if skip+len(page) >= len(x.all) {
		delete(l.byID, id)
	}
	return id, skip, page, len(x.all), true
}

// exoModelError maps a model error to an Exchange exception.
func (s *Server) exoModelError(w http.ResponseWriter, id string, err error) {
	switch {
	case errors.Is(err, lab.ErrNotFound):
		exoError(w, http.StatusNotFound, "ManagementObjectNotFoundException",
			fmt.Sprintf("The operation couldn't be performed because object '%s' couldn't be found on 'lab'.", id))
	case errors.Is(err, lab.ErrConflict):
		exoError(w, http.StatusBadRequest, "ManagementObjectAmbiguousException", err.Error())
	default:
		exoError(w, http.StatusBadRequest, "RecipientTaskException", err.Error())
	}
}
