package lab

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rebind-dev/rebind/anchor"
)

// LicenseE3 is the skuId of Office 365 E3. Every license in the lab
// includes an Exchange Online plan: a licensed user gets a mailbox.
const LicenseE3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"

// CloudUser is a user in Entra ID. Field names follow Microsoft Graph; the
// fields marked lab-only are not served as user properties.
type CloudUser struct {
	ID                string   `json:"id"`
	DisplayName       string   `json:"displayName,omitempty"`
	UserPrincipalName string   `json:"userPrincipalName"`
	Mail              string   `json:"mail,omitempty"`
	MailNickname      string   `json:"mailNickname,omitempty"`
	ProxyAddresses    []string `json:"proxyAddresses,omitempty"`
	AccountEnabled    bool     `json:"accountEnabled"`
	// OnPremisesImmutableID is the source anchor; "" is null.
	OnPremisesImmutableID string `json:"onPremisesImmutableId,omitempty"`
	// OnPremisesSyncEnabled is true for a synced user, false for one that
	// was synced and is now cloud-managed, nil for one never synced.
	OnPremisesSyncEnabled       *bool      `json:"onPremisesSyncEnabled"`
	OnPremisesLastSyncDateTime  *time.Time `json:"onPremisesLastSyncDateTime,omitempty"`
	OnPremisesDistinguishedName string     `json:"onPremisesDistinguishedName,omitempty"`
	OnPremisesSamAccountName    string     `json:"onPremisesSamAccountName,omitempty"`
	OnPremisesUserPrincipalName string     `json:"onPremisesUserPrincipalName,omitempty"`
	AssignedLicenses            []string   `json:"assignedLicenses,omitempty"`
	// LastPasswordChangeDateTime moves when password hash sync carries a
	// new on-premises password.
	LastPasswordChangeDateTime   *time.Time                 `json:"lastPasswordChangeDateTime,omitempty"`
	OnPremisesProvisioningErrors []ProvisioningError        `json:"onPremisesProvisioningErrors,omitempty"`
	ServiceProvisioningErrors    []ServiceProvisioningError `json:"serviceProvisioningErrors,omitempty"`
	CreatedDateTime              time.Time                  `json:"createdDateTime"`
	DeletedDateTime              *time.Time                 `json:"deletedDateTime,omitempty"`
	// DirectoryRoles (lab-only) names the admin roles the user holds; soft
	// match never takes over such a user.
	DirectoryRoles []string `json:"directoryRoles,omitempty"`
	// Exchange (lab-only) holds the on-premises Exchange attributes sync
	// wrote to the user; nil when none flowed (no mailNickname).
	Exchange *ExchangeAttributes `json:"onPremisesExchange,omitempty"`
}

// Synced reports whether the user is mastered on premises.
func (u *CloudUser) Synced() bool { return u.OnPremisesSyncEnabled != nil && *u.OnPremisesSyncEnabled }

// Deleted reports whether the user is in the recycle bin.
func (u *CloudUser) Deleted() bool { return u.DeletedDateTime != nil }

// ExchangeAttributes are the msExch* attributes Entra Connect copies from a
// user whose mailNickname is set.
type ExchangeAttributes struct {
	MailNickname         string      `json:"mailNickname"`
	MailboxGUID          anchor.GUID `json:"msExchMailboxGuid"`
	ArchiveGUID          anchor.GUID `json:"msExchArchiveGUID"`
	TargetAddress        string      `json:"targetAddress,omitempty"`
	RecipientTypeDetails int64       `json:"msExchRecipientTypeDetails,omitempty"`
	RemoteRecipientType  int64       `json:"msExchRemoteRecipientType,omitempty"`
}

// ProvisioningError is Graph's onPremisesProvisioningError: a conflict sync
// hit while writing the user.
type ProvisioningError struct {
	Category             string    `json:"category"`
	OccurredDateTime     time.Time `json:"occurredDateTime"`
	PropertyCausingError string    `json:"propertyCausingError"`
	Value                string    `json:"value"`
}

// ServiceProvisioningError is Graph's serviceProvisioningXmlError: a
// service (Exchange) that could not provision the user.
type ServiceProvisioningError struct {
	CreatedDateTime time.Time `json:"createdDateTime"`
	IsResolved      bool      `json:"isResolved"`
	ServiceInstance string    `json:"serviceInstance"`
	ErrorDetail     string    `json:"errorDetail"`
}

// Organization is the tenant's organization object with the directory
// synchronisation switches. Fields marked lab-only are not Graph properties.
type Organization struct {
	ID                         string     `json:"id"`
	DisplayName                string     `json:"displayName"`
	OnPremisesSyncEnabled      *bool      `json:"onPremisesSyncEnabled"`
	OnPremisesLastSyncDateTime *time.Time `json:"onPremisesLastSyncDateTime,omitempty"`
	// SyncDisableCompletes (lab-only) is when turning sync off completes;
	// nil when no change is pending.
	SyncDisableCompletes *time.Time `json:"syncDisableCompletesDateTime,omitempty"`
	// BlockSoftMatch (lab-only) is the blockSoftMatchEnabled feature.
	BlockSoftMatch bool `json:"blockSoftMatchEnabled,omitempty"`
	// BlockHardMatchTakeover (lab-only) is the
	// blockCloudObjectTakeoverThroughHardMatchEnabled feature.
	BlockHardMatchTakeover bool `json:"blockCloudObjectTakeoverThroughHardMatchEnabled,omitempty"`
	// NoDuplicateResiliency (lab-only) gives the tenant the behaviour from
	// before duplicate attribute resiliency: a refused soft match blocks
	// the AD object, retried every cycle, instead of provisioning it beside
	// the cloud user it could not take over.
	NoDuplicateResiliency bool `json:"duplicateAttributeResiliencyDisabled,omitempty"`
}

// entraStore holds the cloud users and their indexes. Index keys are
// folded; each maps to every user (active or deleted) holding the value.
type entraStore struct {
	byID   map[string]*CloudUser
	upn    map[string][]*CloudUser
	proxy  map[string][]*CloudUser
	imm    map[string][]*CloudUser
	sorted []string // ids in order, rebuilt when nil
}

func (s *entraStore) init() {
	s.byID = map[string]*CloudUser{}
	s.upn = map[string][]*CloudUser{}
	s.proxy = map[string][]*CloudUser{}
	s.imm = map[string][]*CloudUser{}
}

// proxyKey returns the folded address of a proxy address ("smtp:A@x" and
// "SMTP:a@X" share one key).
func proxyKey(p string) string {
	if i := strings.IndexByte(p, ':'); i >= 0 {
		return fold(p[:i]) + ":" + fold(p[i+1:])
	}
	return fold(p)
}

func addIdx(m map[string][]*CloudUser, k string, u *CloudUser) {
	if k != "" {
		m[k] = append(m[k], u)
	}
}

func delIdx(m map[string][]*CloudUser, k string, u *CloudUser) {
	l := m[k]
	for i, o := range l {
		if o == u {
			l = append(l[:i:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(m, k)
	} else {
		m[k] = l
	}
}

func (s *entraStore) index(u *CloudUser) {
	s.byID[u.ID] = u
	addIdx(s.upn, fold(u.UserPrincipalName), u)
	if k := deletedOriginalKey(u); k != "" {
		addIdx(s.upn, k, u)
	}
	addIdx(s.imm, u.OnPremisesImmutableID, u)
	for _, p := range u.ProxyAddresses {
		addIdx(s.proxy, proxyKey(p), u)
	}
}

func (s *entraStore) unindex(u *CloudUser) {
	delIdx(s.upn, fold(u.UserPrincipalName), u)
	if k := deletedOriginalKey(u); k != "" {
		delIdx(s.upn, k, u)
	}
	delIdx(s.imm, u.OnPremisesImmutableID, u)
	for _, p := range u.ProxyAddresses {
		delIdx(s.proxy, proxyKey(p), u)
	}
}

// deletedOriginalKey is the second UPN index key of a user in the recycle
// bin whose UPN carries its object-id prefix: its original UPN, under which
// sync still finds it (deleted_upn.go). Lookups that compare the UPN itself
// (a Graph $filter) see only the prefixed form. "" when there is none.
func deletedOriginalKey(u *CloudUser) string {
	if !u.Deleted() {
		return ""
	}
	if k := fold(originalUPN(u)); k != fold(u.UserPrincipalName) {
		return k
	}
	return ""
}

// add stores a new user.
func (s *entraStore) add(u *CloudUser) {
	s.index(u)
	s.sorted = nil
}

// update applies fn to u keeping the indexes right.
func (s *entraStore) update(u *CloudUser, fn func(u *CloudUser)) {
	s.unindex(u)
	fn(u)
	s.index(u)
}

// purge removes u for good.
func (s *entraStore) purge(u *CloudUser) {
	s.unindex(u)
	delete(s.byID, u.ID)
	s.sorted = nil
}

// ids returns every user id in order.
func (s *entraStore) ids() []string {
	if s.sorted == nil {
		s.sorted = make([]string, 0, len(s.byID))
		for id := range s.byID {
			s.sorted = append(s.sorted, id)
		}
		sort.Strings(s.sorted)
	}
	return s.sorted
}

// active returns the first active user of an index entry other than except.
func active(l []*CloudUser, except *CloudUser) *CloudUser {
	for _, u := range l {
		if u != except && !u.Deleted() {
			return u
		}
	}
	return nil
}

// any returns the first user of an index entry other than except, active
// users before deleted ones.
func anyHolder(l []*CloudUser, except *CloudUser) *CloudUser {
	if u := active(l, except); u != nil {
		return u
	}
	for _, u := range l {
		if u != except {
			return u
		}
	}
	return nil
}

// resolve finds an active user by id or UPN.
func (s *entraStore) resolve(ref string) (*CloudUser, error) {
	if u := s.byID[fold(ref)]; u != nil && !u.Deleted() {
		return u, nil
	}
	if u := active(s.upn[fold(ref)], nil); u != nil {
		return u, nil
	}
	return nil, fmt.Errorf("entra: user %s: %w", ref, ErrNotFound)
}

// deleted finds a user in the recycle bin by id.
func (s *entraStore) deleted(id string) (*CloudUser, error) {
	if u := s.byID[fold(id)]; u != nil && u.Deleted() {
		return u, nil
	}
	return nil, fmt.Errorf("entra: deleted user %s: %w", id, ErrNotFound)
}

// expire purges users whose time in the recycle bin is over.
func (s *entraStore) expire(now time.Time, retention time.Duration) {
	for _, u := range s.byID {
		if u.Deleted() && !now.Before(u.DeletedDateTime.Add(retention)) {
			s.purge(u)
		}
	}
}

// CloudUser returns a copy of the active user whose id or UPN is ref.
func (t *Tenant) CloudUser(ref string) (CloudUser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u, err := t.entra.resolve(ref)
	if err != nil {
		return CloudUser{}, err
	}
	return *u, nil
}

// DeletedCloudUser returns a copy of the user with this id in the recycle
// bin.
func (t *Tenant) DeletedCloudUser(id string) (CloudUser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u, err := t.entra.deleted(id)
	if err != nil {
		return CloudUser{}, err
	}
	return *u, nil
}

// CloudQuery selects cloud users for CloudUsers. Empty fields select all.
type CloudQuery struct {
	// Deleted selects users in the recycle bin instead of active ones.
	Deleted           bool
	UserPrincipalName string
	// UPNSuffix keeps the users whose userPrincipalName ends with it
	// (endswith, an advanced query).
	UPNSuffix   string
	ImmutableID string
	// IDs and UPNs keep the users whose id, or userPrincipalName (ignoring
	// case), is one of them: `$filter=id in ('a','b')`.
	IDs, UPNs []string
	// After resumes a listing after the user with this id.
	After string
	// Limit caps the result; 0 means no cap.
	Limit int
}

// CloudUsers returns copies of the users q selects in id order, and whether
// more follow the last one returned.
func (t *Tenant) CloudUsers(q CloudQuery) ([]CloudUser, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	match := func(u *CloudUser) bool {
		if u.Deleted() != q.Deleted {
			return false
		}
		if q.UserPrincipalName != "" && !strings.EqualFold(u.UserPrincipalName, q.UserPrincipalName) {
			return false
		}
		if q.UPNSuffix != "" && !strings.HasSuffix(fold(u.UserPrincipalName), fold(q.UPNSuffix)) {
			return false
		}
		if len(q.IDs) > 0 && !slices.Contains(q.IDs, u.ID) {
			return false
		}
		if len(q.UPNs) > 0 && !slices.ContainsFunc(q.UPNs, func(s string) bool { return strings.EqualFold(s, u.UserPrincipalName) }) {
			return false
		}
		return q.ImmutableID == "" || u.OnPremisesImmutableID == q.ImmutableID
	}
	var out []CloudUser
	if q.Limit > 0 {
		out = make([]CloudUser, 0, min(q.Limit, len(t.entra.byID)))
	}
	var cands []*CloudUser
	switch {
	case q.UserPrincipalName != "":
		cands = append(cands, t.entra.upn[fold(q.UserPrincipalName)]...)
	case q.ImmutableID != "":
		cands = append(cands, t.entra.imm[q.ImmutableID]...)
	case len(q.IDs) > 0:
		for _, id := range q.IDs {
			if u, ok := t.entra.byID[id]; ok && !slices.Contains(cands, u) {
				cands = append(cands, u)
			}
		}
	case len(q.UPNs) > 0:
		for _, upn := range q.UPNs {
			for _, u := range t.entra.upn[fold(upn)] {
				if !slices.Contains(cands, u) {
					cands = append(cands, u)
				}
			}
		}
	}
	if q.UserPrincipalName != "" || q.ImmutableID != "" || len(q.IDs) > 0 || len(q.UPNs) > 0 {
		sort.Slice(cands, func(i, j int) bool { return cands[i].ID < cands[j].ID })
		for _, u := range cands {
			if u.ID > q.After && match(u) {
				if q.Limit > 0 && len(out) == q.Limit {
					return out, true
				}
				out = append(out, *u)
			}
		}
		return out, false
	}
	ids := t.entra.ids()
	for i := sort.SearchStrings(ids, q.After); i < len(ids); i++ {
		u := t.entra.byID[ids[i]]
		if u.ID == q.After || !match(u) {
			continue
		}
		if q.Limit > 0 && len(out) == q.Limit {
			return out, true
		}
		out = append(out, *u)
	}
	return out, false
}

// AddCloudUser creates a cloud user (as an admin would; sync creates its
// own). ID is assigned when empty. The UPN and proxy addresses must not be
// held by another active user.
func (t *Tenant) AddCloudUser(u CloudUser) (CloudUser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if u.UserPrincipalName == "" {
		return CloudUser{}, fmt.Errorf("entra: add user: %w: no userPrincipalName", ErrInvalid)
	}
	if u.ID == "" {
		u.ID = t.newGUID().String()
	}
	u.ID = fold(u.ID)
	if t.entra.byID[u.ID] != nil {
		return CloudUser{}, fmt.Errorf("entra: add user %s: %w", u.ID, ErrExists)
	}
	if err := t.entra.checkActiveUnique(&u, nil); err != nil {
		return CloudUser{}, fmt.Errorf("entra: add user %s: %w", u.UserPrincipalName, err)
	}
	if u.CreatedDateTime.IsZero() {
		u.CreatedDateTime = t.now
	}
	p := &u
	t.entra.add(p)
	t.provision(p)
	return *p, nil
}

// checkActiveUnique reports ErrConflict when an active user other than self
// holds u's UPN or one of its proxy addresses.
func (s *entraStore) checkActiveUnique(u, self *CloudUser) error {
	if o := active(s.upn[fold(u.UserPrincipalName)], self); o != nil {
		return fmt.Errorf("%w: userPrincipalName %s is held by %s", ErrConflict, u.UserPrincipalName, o.ID)
	}
	for _, p := range u.ProxyAddresses {
		if o := active(s.proxy[proxyKey(p)], self); o != nil {
			return fmt.Errorf("%w: proxy address %s is held by %s", ErrConflict, p, o.ID)
		}
	}
	return nil
}

// CloudUserCount counts the tenant's cloud users, those in the recycle bin
// included, without copying them.
func (t *Tenant) CloudUserCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entra.byID)
}

// ActiveCloudUsers counts the users not in the recycle bin: what
// GET /users/$count answers.
func (t *Tenant) ActiveCloudUsers() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, u := range t.entra.byID {
		if !u.Deleted() {
			n++
		}
	}
	return n
}
