package lab

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rebind-dev/rebind/anchor"
)

// GeneralizedTime is the LDAP syntax AD uses for whenChanged.
const GeneralizedTime = "20060102150405.0Z"

// Attributes returns the user as LDAP attributes, keyed by their AD names
// (in AD's case), with every value as AD sends it: GUIDs as 16 bytes in AD's
// layout, integers in decimal, times in GeneralizedTime. Unset attributes are
// absent.
func (u *ADUser) Attributes() map[string][][]byte {
	a := map[string][][]byte{
		"objectClass":       {[]byte("top"), []byte("person"), []byte("organizationalPerson"), []byte("user")},
		"objectGUID":        {u.ObjectGUID.Bytes()},
		"distinguishedName": {[]byte(u.DN)},
		"whenChanged":       {[]byte(u.WhenChanged.UTC().Format(GeneralizedTime))},
		"uSNChanged":        {[]byte(strconv.FormatInt(u.USNChanged, 10))},
	}
	str := func(name, v string) {
		if v != "" {
			a[name] = [][]byte{[]byte(v)}
		}
	}
	guid := func(name string, g anchor.GUID) {
		if !g.IsZero() {
			a[name] = [][]byte{g.Bytes()}
		}
	}
	num := func(name string, v int64) {
		if v != 0 {
			a[name] = [][]byte{[]byte(strconv.FormatInt(v, 10))}
		}
	}
	name := u.CN
	if u.IsDeleted {
		name = u.CN + "\nDEL:" + u.ObjectGUID.String()
		a["isDeleted"] = [][]byte{[]byte("TRUE")}
		if u.IsRecycled {
			a["isRecycled"] = [][]byte{[]byte("TRUE")}
		}
		str("lastKnownParent", u.LastKnownParent)
	}
	str("cn", name)
	str("name", name)
	str("sAMAccountName", u.SAMAccountName)
	str("userPrincipalName", u.UserPrincipalName)
	str("displayName", u.DisplayName)
	str("mail", u.Mail)
	if len(u.ProxyAddresses) > 0 {
		vs := make([][]byte, len(u.ProxyAddresses))
		for i, p := range u.ProxyAddresses {
			vs[i] = []byte(p)
		}
		a["proxyAddresses"] = vs
	}
	guid("mS-DS-ConsistencyGuid", u.ConsistencyGUID)
	str("mailNickname", u.MailNickname)
	guid("msExchMailboxGuid", u.MailboxGUID)
	guid("msExchArchiveGUID", u.ArchiveGUID)
	str("targetAddress", u.TargetAddress)
	num("msExchRecipientTypeDetails", u.RecipientTypeDetails)
	num("msExchRemoteRecipientType", u.RemoteRecipientType)
	num("msExchRecipientDisplayType", u.RecipientDisplayType)
	a["objectSid"] = [][]byte{u.ObjectSID()}
	a["userAccountControl"] = [][]byte{[]byte(strconv.FormatInt(u.AccountControl(), 10))}
	if !u.PwdLastSet.IsZero() {
		num("pwdLastSet", fileTime(u.PwdLastSet))
	} else if !u.IsDeleted {
		a["pwdLastSet"] = [][]byte{[]byte("0")}
	}
	return a
}

// AttributeNames lists the attributes Attributes can return, sorted, for
// schema answers and "*" searches.
func AttributeNames() []string {
	n := []string{"objectClass", "objectGUID", "distinguishedName", "whenChanged", "uSNChanged",
		"isDeleted", "lastKnownParent", "cn", "name", "sAMAccountName", "userPrincipalName",
		"displayName", "mail", "proxyAddresses", "mS-DS-ConsistencyGuid", "mailNickname",
		"msExchMailboxGuid", "msExchArchiveGUID", "targetAddress", "msExchRecipientTypeDetails",
		"msExchRemoteRecipientType", "msExchRecipientDisplayType", "pwdLastSet", "objectSid", "userAccountControl"}
	sort.Strings(n)
	return n
}

// notModifiable are the attributes of AttributeNames a modify request
// cannot change (lower case): the system's own, the naming attributes
// (changed by a rename or a restore) and isDeleted.
var notModifiable = map[string]bool{
	"objectguid": true, "objectsid": true, "distinguishedname": true, "isdeleted": true, "cn": true, "name": true,
	"objectclass": true, "whenchanged": true, "usnchanged": true, "lastknownparent": true,
}

// ModifiableAttributeNames are the attributes of a user a modify request
// may change: what the lab's LDAP server answers in the constructed
// allowedAttributesEffective for its one account, the domain's
// Administrator, who may write every attribute that is not the system's
// (https://learn.microsoft.com/windows/win32/adschema/a-allowedattributeseffective:
// "A list of attributes that can be modified on the object").
func ModifiableAttributeNames() []string {
	var out []string
	for _, n := range AttributeNames() {
		if !notModifiable[strings.ToLower(n)] {
			out = append(out, n)
		}
	}
	return out
}

// rangeUpper is the longest value AD's schema allows in the lab's string
// attributes, in characters (for String(Unicode) "rangeUpper is the maximum
// length, in Unicode characters", MS-ADA3 2.183): displayName 256 (MS-ADA1
// 2.175), mail 256 (MS-ADA2, Attribute mail), userPrincipalName 1024 (MS-ADA3
// 2.349), proxyAddresses 1123 (MS-ADA3 2.169) and targetAddress 1123
// (ms-Exch-Target-Address in the Exchange schema). AD refuses a longer value
// with constraintViolation (19), CONSTRAINT_ATT_TYPE.
var rangeUpper = map[string]int{
	"displayname": 256, "mail": 256, "userprincipalname": 1024, "proxyaddresses": 1123, "targetaddress": 1123,
}

// checkRange refuses values longer than the attribute's rangeUpper.
func checkRange(name, display string, values [][]byte) error {
	max, ok := rangeUpper[name]
	if !ok {
		return nil
	}
	for _, v := range values {
		if len(v) > max && utf8.RuneCount(v) > max {
			return fmt.Errorf("%w: %s holds at most %d characters (rangeUpper); a value has %d", ErrConflict, display, max, utf8.RuneCount(v))
		}
	}
	return nil
}

// modify applies one LDAP modification to u. Attributes that AD computes or
// protects (objectGUID, distinguishedName, isDeleted, ...) are refused here;
// reanimation and renames have their own operations.
func (u *ADUser) modify(m ADModification) error {
	name := strings.ToLower(m.Attr)
	if m.Op != ModDelete {
		if err := checkRange(name, m.Attr, m.Values); err != nil {
			return err
		}
	}
	if name == "proxyaddresses" {
		return u.modifyProxies(m)
	}
	if len(m.Values) > 1 {
		return fmt.Errorf("%w: %s is single-valued", ErrConflict, m.Attr)
	}
	var v []byte
	switch m.Op {
	case ModAdd, ModReplace:
		if len(m.Values) == 1 {
			v = m.Values[0]
		}
	case ModDelete:
		v = nil
	default:
		return fmt.Errorf("%w: modify operation %d", ErrInvalid, m.Op)
	}
	return u.set(name, m.Attr, v)
}

// set replaces a single-valued attribute; nil v clears it.
func (u *ADUser) set(name, display string, v []byte) error {
	str := func(p *string) error { *p = string(v); return nil }
	guid := func(p *anchor.GUID) error {
		if v == nil {
			*p = anchor.GUID{}
			return nil
		}
		g, err := anchor.FromBytes(v)
		if err != nil {
			return fmt.Errorf("%s: %w", display, err)
		}
		*p = g
		return nil
	}
	num := func(p *int64) error {
		if v == nil {
			*p = 0
			return nil
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return fmt.Errorf("%w: %s wants an integer, got %q", ErrInvalid, display, v)
		}
		*p = n
		return nil
	}
	switch name {
	case "samaccountname":
		return str(&u.SAMAccountName)
	case "userprincipalname":
		return str(&u.UserPrincipalName)
	case "displayname":
		return str(&u.DisplayName)
	case "mail":
		return str(&u.Mail)
	case "mailnickname":
		return str(&u.MailNickname)
	case "targetaddress":
		return str(&u.TargetAddress)
	case "ms-ds-consistencyguid":
		return guid(&u.ConsistencyGUID)
	case "msexchmailboxguid":
		return guid(&u.MailboxGUID)
	case "msexcharchiveguid":
		return guid(&u.ArchiveGUID)
	case "msexchrecipienttypedetails":
		return num(&u.RecipientTypeDetails)
	case "msexchremoterecipienttype":
		return num(&u.RemoteRecipientType)
	case "msexchrecipientdisplaytype":
		return num(&u.RecipientDisplayType)
	case "unicodepwd":
		// AD takes a new password as a write of unicodePwd (a quoted
		// UTF-16LE string); the lab keeps only when it happened.
		if v == nil {
			return fmt.Errorf("%w: unicodePwd cannot be removed", ErrRefused)
		}
		u.pwdSet = true
		return nil
	case "pwdlastset":
		// AD accepts 0 (must change at next logon) and -1 (now).
		switch string(v) {
		case "0":
			u.PwdLastSet, u.pwdSet = time.Time{}, false
		case "-1":
			u.pwdSet = true
		default:
			return fmt.Errorf("%w: pwdLastSet takes 0 or -1", ErrConflict)
		}
		return nil
	case "useraccountcontrol":
		// An admin disables an account by setting ACCOUNTDISABLE (0x2)
		// in userAccountControl and enables it by clearing it
		// (https://learn.microsoft.com/en-us/troubleshoot/windows-server/active-directory/useraccountcontrol-manipulate-account-properties).
		// The lab keeps the account a user (NORMAL_ACCOUNT) and does not
		// model AD's other checks on the flags.
		if v == nil {
			return fmt.Errorf("%w: userAccountControl cannot be removed", ErrRefused)
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || n < 0 || n > 0xFFFFFFFF {
			return fmt.Errorf("%w: userAccountControl wants a 32-bit integer, got %q", ErrInvalid, v)
		}
		if n&UFNormalAccount == 0 {
			return fmt.Errorf("%w: userAccountControl %#x drops NORMAL_ACCOUNT (0x200); a user stays a normal account", ErrRefused, n)
		}
		u.UserAccountControl = n
		return nil
	}
	if notModifiable[name] {
		return fmt.Errorf("%w: %s cannot be modified this way", ErrRefused, display)
	}
	return fmt.Errorf("%w: no attribute %s in the lab's schema", ErrInvalid, display)
}

// modifyProxies applies a modification to the multi-valued proxyAddresses,
// matching values case-sensitively on the prefix ("SMTP:" is the primary)
// and case-insensitively on the address, as Exchange does.
func (u *ADUser) modifyProxies(m ADModification) error {
	vals := make([]string, len(m.Values))
	for i, v := range m.Values {
		vals[i] = string(v)
	}
	switch m.Op {
	case ModReplace:
		u.ProxyAddresses = vals
	case ModAdd:
		next := append([]string(nil), u.ProxyAddresses...)
		for _, v := range vals {
			if indexProxy(next, v) >= 0 {
				return fmt.Errorf("%w: proxyAddresses already holds %s", ErrExists, v)
			}
			next = append(next, v)
		}
		u.ProxyAddresses = next
	case ModDelete:
		if len(vals) == 0 {
			u.ProxyAddresses = nil
			return nil
		}
		next := append([]string(nil), u.ProxyAddresses...)
		for _, v := range vals {
			i := indexProxy(next, v)
			if i < 0 {
				return fmt.Errorf("%w: proxyAddresses has no value %s", ErrNotFound, v)
			}
			next = append(next[:i], next[i+1:]...)
		}
		u.ProxyAddresses = next
	default:
		return fmt.Errorf("%w: modify operation %d", ErrInvalid, m.Op)
	}
	return nil
}

// indexProxy returns the index of v in list, comparing prefixes exactly and
// addresses case-insensitively, or -1.
func indexProxy(list []string, v string) int {
	for i, p := range list {
		pi, vi := strings.IndexByte(p, ':'), strings.IndexByte(v, ':')
		if pi == vi && p[:pi+1] == v[:vi+1] && strings.EqualFold(p[pi+1:], v[vi+1:]) {
			return i
		}
	}
	return -1
}

// userAccountControl bits ([MS-ADTS] 2.2.16, userAccountControl Bits;
// "UserAccountControl property flags",
// https://learn.microsoft.com/en-us/troubleshoot/windows-server/active-directory/useraccountcontrol-manipulate-account-properties:
// ACCOUNTDISABLE 0x0002, NORMAL_ACCOUNT 0x0200).
const (
	UFAccountDisable = 0x2
	UFNormalAccount  = 0x200
)

// firstRID is the first relative identifier the lab hands out: RIDs
// below 1000 are the well-known ones (Administrator 500, ...; Well-known
// SIDs, https://learn.microsoft.com/en-us/windows-server/identity/ad-ds/manage/understand-security-identifiers).
const firstRID = 1100

// AccountControl returns userAccountControl: NORMAL_ACCOUNT when unset.
func (u *ADUser) AccountControl() int64 {
	if u.UserAccountControl == 0 {
		return UFNormalAccount
	}
	return u.UserAccountControl
}

// Disabled reports whether ACCOUNTDISABLE is set.
func (u *ADUser) Disabled() bool { return u.AccountControl()&UFAccountDisable != 0 }

// DomainSID returns the SID of the domain a DN is in, S-1-5-21-a-b-c: a
// domain's SID is the prefix of the SIDs of its accounts, which end with
// their RID. The lab derives a, b and c from the domain's DN so that a
// domain keeps its SID across restarts.
func DomainSID(dn string) [3]uint32 {
	var dc []string
	for _, rdn := range strings.Split(dn, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(rdn), "="); ok && strings.EqualFold(k, "DC") {
			dc = append(dc, strings.ToLower(v))
		}
	}
	sum := sha256.Sum256([]byte(strings.Join(dc, ".")))
	return [3]uint32{binary.BigEndian.Uint32(sum[0:]), binary.BigEndian.Uint32(sum[4:]), binary.BigEndian.Uint32(sum[8:])}
}

// ObjectSID returns the user's objectSid in its binary form, as AD sends
// it ([MS-DTYP] 2.4.2.2 SID--Packet Representation): revision 1, the
// number of sub-authorities, the identifier authority 5 (NT) as 6
// big-endian bytes, then each sub-authority as 4 little-endian bytes: 21,
// the domain's three, the RID.
func (u *ADUser) ObjectSID() []byte {
	d := DomainSID(u.DN)
	sub := []uint32{21, d[0], d[1], d[2], u.RID}
	b := []byte{1, byte(len(sub)), 0, 0, 0, 0, 0, 5}
	for _, s := range sub {
		b = binary.LittleEndian.AppendUint32(b, s)
	}
	return b
}

// SIDString renders a binary SID as S-1-5-21-...
func SIDString(b []byte) string {
	if len(b) < 8 || len(b) != 8+4*int(b[1]) {
		return ""
	}
	var auth uint64
	for _, x := range b[2:8] {
		auth = auth<<8 | uint64(x)
	}
	s := fmt.Sprintf("S-%d-%d", b[0], auth)
	for i := 8; i < len(b); i += 4 {
		s += fmt.Sprintf("-%d", binary.LittleEndian.Uint32(b[i:]))
	}
	return s
}

// fileTime converts t to AD's Integer8 time: 100-nanosecond intervals since
// 1601-01-01 UTC.
func fileTime(t time.Time) int64 {
	const epochDiff = 11644473600 // seconds from 1601 to 1970
	return (t.Unix()+epochDiff)*10_000_000 + int64(t.Nanosecond()/100)
}
