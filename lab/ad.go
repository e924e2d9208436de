package lab

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/rebind-dev/rebind/anchor"
)

// Recipient type values Exchange writes to msExchRecipientTypeDetails and
// msExchRecipientDisplayType.
const (
	// RecipientUserMailbox is an on-premises mailbox.
	RecipientUserMailbox int64 = 1
	// RecipientRemoteUserMailbox is a remote mailbox: the user's mailbox is
	// in Exchange Online (Enable-RemoteMailbox).
	RecipientRemoteUserMailbox int64 = 2147483648
	// DisplayTypeRemoteMailUser is msExchRecipientDisplayType of a remote
	// mailbox (ACL-able synced mailbox user).
	DisplayTypeRemoteMailUser int64 = -2147483642
	// RemoteTypeProvisionMailbox is msExchRemoteRecipientType of a remote
	// mailbox created in the cloud.
	RemoteTypeProvisionMailbox int64 = 1
)

// ADUser is a user object in Active Directory. GUID-valued attributes hold
// the zero GUID when unset; integer attributes hold 0 when unset.
type ADUser struct {
	ObjectGUID        anchor.GUID `json:"objectGUID"`
	DN                string      `json:"distinguishedName"`
	CN                string      `json:"cn"`
	SAMAccountName    string      `json:"sAMAccountName,omitempty"`
	UserPrincipalName string      `json:"userPrincipalName,omitempty"`
	DisplayName       string      `json:"displayName,omitempty"`
	Mail              string      `json:"mail,omitempty"`
	ProxyAddresses    []string    `json:"proxyAddresses,omitempty"`
	// ConsistencyGUID is mS-DS-ConsistencyGuid; when set, Entra Connect
	// uses it instead of objectGUID as the source anchor.
	ConsistencyGUID      anchor.GUID `json:"mS-DS-ConsistencyGuid"`
	MailNickname         string      `json:"mailNickname,omitempty"`
	MailboxGUID          anchor.GUID `json:"msExchMailboxGuid"`
	ArchiveGUID          anchor.GUID `json:"msExchArchiveGUID"`
	TargetAddress        string      `json:"targetAddress,omitempty"`
	RecipientTypeDetails int64       `json:"msExchRecipientTypeDetails,omitempty"`
	RemoteRecipientType  int64       `json:"msExchRemoteRecipientType,omitempty"`
	RecipientDisplayType int64       `json:"msExchRecipientDisplayType,omitempty"`
	// IsDeleted is set while the object sits in CN=Deleted Objects;
	// LastKnownParent is then the container it was deleted from.
	IsDeleted bool `json:"isDeleted,omitempty"`
	// IsRecycled marks a deleted object past its deleted-object lifetime
	// (AD Recycle Bin on): its attributes are gone and it cannot be
	// restored. WhenChanged is then when it was recycled.
	IsRecycled      bool      `json:"isRecycled,omitempty"`
	LastKnownParent string    `json:"lastKnownParent,omitempty"`
	WhenChanged     time.Time `json:"whenChanged"`
	USNChanged      int64     `json:"uSNChanged"`
	// PwdLastSet is when the password was last set; zero when it must be
	// changed at next logon.
	PwdLastSet time.Time `json:"pwdLastSet,omitzero"`
	// RID is the relative identifier that ends the user's objectSid (the
	// domain's SID, then the RID). A domain hands RIDs out from its RID
	// pool; the lab derives each from the objectGUID when the user is
	// stored (the next free one on a clash), so that a user keeps its SID
	// across restarts without the state file holding it.
	RID uint32 `json:"-"`
	// UserAccountControl holds the account's flags ([MS-ADTS] 2.2.16);
	// 0 stands for NORMAL_ACCOUNT (0x200), an enabled user.
	UserAccountControl int64 `json:"userAccountControl,omitempty"`

	// pwdSet marks a password written by a modification, stamped with
	// the virtual time when the object is stored.
	pwdSet bool
}

// stampPassword sets PwdLastSet to now when a modification wrote the
// password.
func (u *ADUser) stampPassword(now time.Time) {
	if u.pwdSet {
		u.PwdLastSet, u.pwdSet = now, false
	}
}

// Anchor returns the source anchor Entra Connect derives from the user:
// base64 of mS-DS-ConsistencyGuid when set, else of objectGUID, both in AD's
// byte order.
func (u *ADUser) Anchor() string {
	if !u.ConsistencyGUID.IsZero() {
		return u.ConsistencyGUID.ImmutableID()
	}
	return u.ObjectGUID.ImmutableID()
}

// PrimarySMTP returns the address of the "SMTP:" entry of proxyAddresses, or
// mail when there is none.
func (u *ADUser) PrimarySMTP() string {
	if a := primarySMTP(u.ProxyAddresses); a != "" {
		return a
	}
	return u.Mail
}

// primarySMTP returns the address of the upper-case "SMTP:" proxy address.
func primarySMTP(proxies []string) string {
	for _, p := range proxies {
		if strings.HasPrefix(p, "SMTP:") {
			return p[len("SMTP:"):]
		}
	}
	return ""
}

// ADScope is the scope of an AD search, as in LDAP.
type ADScope int

// The three LDAP search scopes.
const (
	ScopeSubtree ADScope = iota
	ScopeBase
	ScopeOneLevel
)

// ADQuery selects AD users. The LDAP server translates a search request into
// one: base DN and scope as sent, ShowDeleted from the Show Deleted control,
// Match from the filter (evaluated against ADUser.Attributes).
type ADQuery struct {
	// BaseDN is a DN or "<GUID=...>"; empty means the domain.
	BaseDN string
	Scope  ADScope
	// ShowDeleted includes objects under CN=Deleted Objects.
	ShowDeleted bool
	// Match, when not nil, keeps only the users it returns true for. It
	// runs under the tenant's lock and must not call back into the Tenant.
	Match func(*ADUser) bool
}

// ADModOp is the operation of one LDAP modification.
type ADModOp int

// The LDAP modify operations.
const (
	ModAdd ADModOp = iota
	ModDelete
	ModReplace
)

// ADModification is one change of an LDAP modify request. Values are the raw
// attribute values (GUIDs as 16 bytes in AD order, integers in decimal).
type ADModification struct {
	Op     ADModOp
	Attr   string
	Values [][]byte
}

// adStore holds the AD users with their indexes: by GUID, by folded DN, and
// by folded UPN for live objects.
type adStore struct {
	byGUID map[anchor.GUID]*ADUser
	byDN   map[string]*ADUser
	byUPN  map[string]*ADUser
	bySAM  map[string]*ADUser
	usn    int64
	// rids holds the RIDs in use.
	rids map[uint32]*ADUser
}

func (s *adStore) init() {
	s.byGUID = map[anchor.GUID]*ADUser{}
	s.byDN = map[string]*ADUser{}
	s.byUPN = map[string]*ADUser{}
	s.bySAM = map[string]*ADUser{}
	s.rids = map[uint32]*ADUser{}
}

func (s *adStore) index(u *ADUser) {
	if s.rids == nil {
		s.rids = map[uint32]*ADUser{}
	}
	if old := s.byGUID[u.ObjectGUID]; old != nil && old.RID != 0 {
		u.RID = old.RID
	}
	if u.RID == 0 {
		h := fnv.New32a()
		h.Write(u.ObjectGUID.Bytes())
		r := firstRID + h.Sum32()%(1<<29)
		for s.rids[r] != nil && s.rids[r].ObjectGUID != u.ObjectGUID {
			r++
		}
		u.RID = r
	}
	s.rids[u.RID] = u
	s.byGUID[u.ObjectGUID] = u
	s.byDN[fold(u.DN)] = u
	if !u.IsDeleted && u.UserPrincipalName != "" {
		s.byUPN[fold(u.UserPrincipalName)] = u
	}
	if !u.IsDeleted && u.SAMAccountName != "" {
		s.bySAM[fold(u.SAMAccountName)] = u
	}
}

func (s *adStore) unindex(u *ADUser) {
	delete(s.byDN, fold(u.DN))
	if s.byUPN[fold(u.UserPrincipalName)] == u {
		delete(s.byUPN, fold(u.UserPrincipalName))
	}
	if s.bySAM[fold(u.SAMAccountName)] == u {
		delete(s.bySAM, fold(u.SAMAccountName))
	}
}

// resolve finds a user by DN, "<GUID=...>" or bare GUID string.
func (s *adStore) resolve(ref string) (*ADUser, error) {
	r := strings.TrimSpace(ref)
	if strings.HasPrefix(r, "<GUID=") && strings.HasSuffix(r, ">") {
		r = r[len("<GUID=") : len(r)-1]
	}
	if g, err := anchor.ParseGUID(r); err == nil {
		if u := s.byGUID[g]; u != nil {
			return u, nil
		}
		return nil, fmt.Errorf("ad: %s: %w", ref, ErrNotFound)
	}
	if u := s.byDN[fold(r)]; u != nil {
		return u, nil
	}
	return nil, fmt.Errorf("ad: %s: %w", ref, ErrNotFound)
}

// DeletedObjectsDN returns the DN of the domain's CN=Deleted Objects.
func (t *Tenant) DeletedObjectsDN() string { return "CN=Deleted Objects," + t.Config().DomainDN }

// ADUser returns a copy of the user named by ref: a DN, "<GUID=...>" or a
// GUID string. Deleted users are found too; check IsDeleted.
func (t *Tenant) ADUser(ref string) (ADUser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u, err := t.ad.resolve(ref)
	if err != nil {
		return ADUser{}, err
	}
	return *u, nil
}

// SearchAD returns copies of the users q selects, sorted by DN.
func (t *Tenant) SearchAD(q ADQuery) ([]ADUser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var base string
	var only *ADUser
	switch {
	case q.BaseDN == "":
		base = fold(t.cfg.DomainDN)
	case strings.HasPrefix(q.BaseDN, "<GUID="):
		u, err := t.ad.resolve(q.BaseDN)
		if err != nil {
			return nil, err
		}
		only = u
	default:
		base = fold(q.BaseDN)
		if q.Scope == ScopeBase {
			u, err := t.ad.resolve(q.BaseDN)
			if err != nil {
				return nil, err
			}
			only = u
		}
	}
	var out []ADUser
	keep := func(u *ADUser) {
		if u.IsDeleted && !q.ShowDeleted {
			return
		}
		if q.Match != nil && !q.Match(u) {
			return
		}
		out = append(out, *u)
	}
	if only != nil {
		keep(only)
		return out, nil
	}
	for _, u := range t.ad.byGUID {
		dn := fold(u.DN)
		switch q.Scope {
		case ScopeOneLevel:
			if parentDN(dn) != base {
				continue
			}
		default:
			if dn != base && !strings.HasSuffix(dn, ","+base) {
				continue
			}
		}
		keep(u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DN < out[j].DN })
	return out, nil
}

// parentDN returns dn without its first RDN, honouring escaped commas.
func parentDN(dn string) string {
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			return dn[i+1:]
		}
	}
	return ""
}

// AddADUser creates u. ObjectGUID is assigned when zero; CN defaults to the
// DN's first RDN value. It fails with ErrExists when the DN or GUID is taken
// and ErrConflict when another live user has the same UPN or sAMAccountName.
func (t *Tenant) AddADUser(u ADUser) (ADUser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if u.DN == "" {
		return ADUser{}, fmt.Errorf("ad: add user: %w: no DN", ErrInvalid)
	}
	if u.ObjectGUID.IsZero() {
		u.ObjectGUID = t.newGUID()
	}
	if u.CN == "" {
		u.CN = rdnValue(u.DN)
	}
	if t.ad.byDN[fold(u.DN)] != nil || t.ad.byGUID[u.ObjectGUID] != nil {
		return ADUser{}, fmt.Errorf("ad: add %s: %w", u.DN, ErrExists)
	}
	u.IsDeleted = false
	if err := t.ad.checkUnique(&u, nil); err != nil {
		return ADUser{}, fmt.Errorf("ad: add %s: %w", u.DN, err)
	}
	t.ad.usn++
	u.USNChanged, u.WhenChanged = t.ad.usn, t.now
	u.stampPassword(t.now)
	p := &u
	t.ad.index(p)
	return *p, nil
}

// checkUnique reports ErrConflict when a live user other than self holds
// u's UPN or sAMAccountName.
func (s *adStore) checkUnique(u, self *ADUser) error {
	if u.UserPrincipalName != "" {
		if o := s.byUPN[fold(u.UserPrincipalName)]; o != nil && o != self {
			return fmt.Errorf("%w: userPrincipalName %s is held by %s", ErrConflict, u.UserPrincipalName, o.DN)
		}
	}
	if u.SAMAccountName != "" {
		if o := s.bySAM[fold(u.SAMAccountName)]; o != nil && o != self {
			return fmt.Errorf("%w: sAMAccountName %s is held by %s", ErrConflict, u.SAMAccountName, o.DN)
		}
	}
	return nil
}

// rdnValue returns the value of dn's first RDN, unescaped only of the
// escapes AD puts in CN values.
func rdnValue(dn string) string {
	first := dn
	if p := parentDN(dn); p != "" {
		first = dn[:len(dn)-len(p)-1]
	}
	if i := strings.IndexByte(first, '='); i >= 0 {
		first = first[i+1:]
	}
	return strings.ReplaceAll(first, `\,`, ",")
}

// UpdateADUser applies fn to a copy of the live or deleted user named by ref
// and stores the result, bumping uSNChanged so the next delta sync sees it.
// fn may change any attribute but objectGUID, DN and isDeleted (use
// RenameADUser, DeleteADUser and ReanimateADUser).
func (t *Tenant) UpdateADUser(ref string, fn func(u *ADUser)) (ADUser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.updateAD(ref, func(u *ADUser) error { fn(u); return nil })
}

// updateAD is UpdateADUser under the lock, with a failing fn.
func (t *Tenant) updateAD(ref string, fn func(u *ADUser) error) (ADUser, error) {
	cur, err := t.ad.resolve(ref)
	if err != nil {
		return ADUser{}, err
	}
	next := *cur
	if err := fn(&next); err != nil {
		return ADUser{}, fmt.Errorf("ad: modify %s: %w", cur.DN, err)
	}
	next.ObjectGUID, next.DN, next.IsDeleted = cur.ObjectGUID, cur.DN, cur.IsDeleted
	if !next.IsDeleted {
		if err := t.ad.checkUnique(&next, cur); err != nil {
			return ADUser{}, fmt.Errorf("ad: modify %s: %w", cur.DN, err)
		}
	}
	t.ad.unindex(cur)
	t.ad.usn++
	next.USNChanged, next.WhenChanged = t.ad.usn, t.now
	next.stampPassword(t.now)
	*cur = next
	t.ad.index(cur)
	return *cur, nil
}

// ModifyAD applies LDAP modifications to the user named by ref, atomically:
// either all apply or none does. A request that deletes isDeleted and
// replaces distinguishedName is a reanimation, as in AD: the deleted object
// comes back at the new DN with the other modifications applied.
func (t *Tenant) ModifyAD(ref string, mods []ADModification) (ADUser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var rest []ADModification
	reanimate, newDN := false, ""
	for _, m := range mods {
		switch strings.ToLower(m.Attr) {
		case "isdeleted":
			if m.Op != ModDelete {
				return ADUser{}, fmt.Errorf("ad: modify %s: %w: isDeleted can only be deleted", ref, ErrRefused)
			}
			reanimate = true
		case "distinguishedname":
			if m.Op != ModReplace || len(m.Values) != 1 {
				return ADUser{}, fmt.Errorf("ad: modify %s: %w: distinguishedName takes one replaced value", ref, ErrRefused)
			}
			newDN = string(m.Values[0])
		default:
			rest = append(rest, m)
		}
	}
	apply := func(u *ADUser) error {
		for _, m := range rest {
			if err := u.modify(m); err != nil {
				return err
			}
		}
		return nil
	}
	switch {
	case reanimate && newDN == "":
		return ADUser{}, fmt.Errorf("ad: reanimate %s: %w: the request must replace distinguishedName", ref, ErrRefused)
	case reanimate:
		return t.reanimate(ref, newDN, apply)
	case newDN != "":
		return ADUser{}, fmt.Errorf("ad: modify %s: %w: use a ModifyDN request to rename", ref, ErrRefused)
	}
	return t.updateAD(ref, apply)
}

// RenameADUser moves a live user to newDN (LDAP ModifyDN).
func (t *Tenant) RenameADUser(ref, newDN string) (ADUser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u, err := t.ad.resolve(ref)
	if err != nil {
		return ADUser{}, err
	}
	if u.IsDeleted {
		return ADUser{}, fmt.Errorf("ad: rename %s: %w: the object is deleted", u.DN, ErrRefused)
	}
	if o := t.ad.byDN[fold(newDN)]; o != nil && o != u {
		return ADUser{}, fmt.Errorf("ad: rename %s to %s: %w", u.DN, newDN, ErrExists)
	}
	t.ad.unindex(u)
	u.DN, u.CN = newDN, rdnValue(newDN)
	t.ad.usn++
	u.USNChanged, u.WhenChanged = t.ad.usn, t.now
	t.ad.index(u)
	return *u, nil
}

// DeleteADUser moves a live user to CN=Deleted Objects with the RDN
// "CN=name\0ADEL:guid". Without the AD Recycle Bin the object becomes a
// tombstone: only objectGUID, sAMAccountName and the bookkeeping attributes
// survive. With it, every attribute is kept.
func (t *Tenant) DeleteADUser(ref string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	u, err := t.ad.resolve(ref)
	if err != nil {
		return err
	}
	if u.IsDeleted {
		return fmt.Errorf("ad: delete %s: %w: already deleted", u.DN, ErrNotFound)
	}
	t.ad.unindex(u)
	parent := parentDN(u.DN)
	if !t.cfg.ADRecycleBin {
		*u = ADUser{ObjectGUID: u.ObjectGUID, CN: u.CN, SAMAccountName: u.SAMAccountName}
	}
	u.IsDeleted, u.LastKnownParent = true, parent
	u.DN = fmt.Sprintf(`CN=%s\0ADEL:%s,CN=Deleted Objects,%s`, escapeRDN(u.CN), u.ObjectGUID, t.cfg.DomainDN)
	t.ad.usn++
	u.USNChanged, u.WhenChanged = t.ad.usn, t.now
	t.ad.index(u)
	return nil
}

// collectDeleted does what AD's garbage collection does as the clock
// passes, timing from each deleted object's whenChanged (set when it was
// deleted or recycled): with the Recycle Bin on, a deleted object past the
// deleted-object lifetime is recycled (only the tombstone's attributes
// remain); a tombstone or recycled object past the tombstone lifetime is
// removed for good.
func (t *Tenant) collectDeleted() {
	for _, u := range t.ad.byGUID {
		if !u.IsDeleted {
			continue
		}
		if t.cfg.ADRecycleBin && !u.IsRecycled {
			due := u.WhenChanged.Add(t.cfg.DeletedObjectLifetime.D())
			if t.now.Before(due) {
				continue
			}
			t.ad.unindex(u)
			*u = ADUser{ObjectGUID: u.ObjectGUID, CN: u.CN, SAMAccountName: u.SAMAccountName, DN: u.DN,
				IsDeleted: true, IsRecycled: true, LastKnownParent: u.LastKnownParent}
			t.ad.usn++
			u.USNChanged, u.WhenChanged = t.ad.usn, due
			t.ad.index(u)
		}
		if !t.now.Before(u.WhenChanged.Add(t.cfg.TombstoneLifetime.D())) {
			t.ad.unindex(u)
			delete(t.ad.byGUID, u.ObjectGUID)
		}
	}
}

// escapeRDN escapes the characters of an RDN value that DNs reserve.
func escapeRDN(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `,`, `\,`, `+`, `\+`, `"`, `\"`, `<`, `\<`, `>`, `\>`, `;`, `\;`, `=`, `\=`)
	return r.Replace(v)
}

// ReanimateADUser restores a deleted user to newDN, as AD does for a Modify
// that deletes isDeleted and replaces distinguishedName (sent with the Show
// Deleted control). A tombstone comes back without the attributes it lost.
// It fails with ErrExists when newDN is taken (LDAP 68) and ErrConflict when
// a live user holds its UPN (LDAP 19).
func (t *Tenant) ReanimateADUser(ref, newDN string) (ADUser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reanimate(ref, newDN, nil)
}

// reanimate is ReanimateADUser under the lock; fn, when not nil, changes
// other attributes of the object in the same operation.
func (t *Tenant) reanimate(ref, newDN string, fn func(u *ADUser) error) (ADUser, error) {
	u, err := t.ad.resolve(ref)
	if err != nil {
		return ADUser{}, err
	}
	if !u.IsDeleted {
		return ADUser{}, fmt.Errorf("ad: reanimate %s: %w: the object is not deleted", u.DN, ErrRefused)
	}
	if u.IsRecycled {
		return ADUser{}, fmt.Errorf("ad: reanimate %s: %w: the object is recycled (past its deleted-object lifetime); only an authoritative restore from backup brings it back", u.DN, ErrRefused)
	}
	if newDN == "" {
		newDN = "CN=" + escapeRDN(u.CN) + "," + u.LastKnownParent
	}
	if t.ad.byDN[fold(newDN)] != nil {
		return ADUser{}, fmt.Errorf("ad: reanimate %s as %s: %w", u.ObjectGUID, newDN, ErrExists)
	}
	next := *u
	next.IsDeleted, next.LastKnownParent = false, ""
	if fn != nil {
		if err := fn(&next); err != nil {
			return ADUser{}, fmt.Errorf("ad: reanimate %s: %w", u.ObjectGUID, err)
		}
	}
	if err := t.ad.checkUnique(&next, u); err != nil {
		return ADUser{}, fmt.Errorf("ad: reanimate %s: %w", u.ObjectGUID, err)
	}
	t.ad.unindex(u)
	next.DN, next.CN = newDN, rdnValue(newDN)
	t.ad.usn++
	next.USNChanged, next.WhenChanged = t.ad.usn, t.now
	next.stampPassword(t.now)
	*u = next
	t.ad.index(u)
	return *u, nil
}

// TryUpdateADUser is UpdateADUser with an fn that may refuse the change:
// when fn returns an error nothing is stored and the error is returned,
// wrapped with the user's DN.
func (t *Tenant) TryUpdateADUser(ref string, fn func(u *ADUser) error) (ADUser, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.updateAD(ref, fn)
}
