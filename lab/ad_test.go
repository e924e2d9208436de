package lab

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rebind-dev/rebind/anchor"
)

const usersOU = "OU=Users,DC=corp,DC=example,DC=com"

func mustADUser(t *testing.T, tn *Tenant, name string) ADUser {
	t.Helper()
	u, err := tn.AddADUser(ADUser{DN: "CN=" + name + "," + usersOU, SAMAccountName: name,
		UserPrincipalName: name + "@contoso.com", Mail: name + "@contoso.com",
		ProxyAddresses: []string{"SMTP:" + name + "@contoso.com", "smtp:" + name + "@contoso.mail.onmicrosoft.com"},
		MailNickname:   name, DisplayName: name})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestADDeleteTombstoneLosesAttributes(t *testing.T) {
	tn := New(Config{})
	u := mustADUser(t, tn, "nicki")
	if err := tn.DeleteADUser(u.DN); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.ADUser(u.DN); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old DN still resolves: %v", err)
	}
	d, err := tn.ADUser("<GUID=" + u.ObjectGUID.String() + ">")
	if err != nil {
		t.Fatal(err)
	}
	want := `CN=nicki\0ADEL:` + u.ObjectGUID.String() + ",CN=Deleted Objects,DC=corp,DC=example,DC=com"
	if !d.IsDeleted || d.DN != want || d.LastKnownParent != usersOU {
		t.Fatalf("deleted object = %+v, want DN %s", d, want)
	}
	if d.UserPrincipalName != "" || d.ProxyAddresses != nil || d.MailNickname != "" {
		t.Fatalf("tombstone kept attributes: %+v", d)
	}
	hidden, _ := tn.SearchAD(ADQuery{})
	shown, _ := tn.SearchAD(ADQuery{ShowDeleted: true})
	if len(hidden) != 0 || len(shown) != 1 {
		t.Fatalf("search: %d without Show Deleted, %d with; want 0 and 1", len(hidden), len(shown))
	}
	r, err := tn.ReanimateADUser(u.ObjectGUID.String(), u.DN)
	if err != nil {
		t.Fatal(err)
	}
	if r.IsDeleted || r.DN != u.DN || r.ObjectGUID != u.ObjectGUID || r.UserPrincipalName != "" {
		t.Fatalf("reanimated tombstone = %+v", r)
	}
}

func TestADRecycleBinKeepsAttributes(t *testing.T) {
	tn := New(Config{ADRecycleBin: true})
	u := mustADUser(t, tn, "nicki")
	if err := tn.DeleteADUser(u.ObjectGUID.String()); err != nil {
		t.Fatal(err)
	}
	d, _ := tn.ADUser(u.ObjectGUID.String())
	if d.UserPrincipalName != u.UserPrincipalName || len(d.ProxyAddresses) != 2 {
		t.Fatalf("recycle bin lost attributes: %+v", d)
	}
	// A new user took the UPN meanwhile: reanimation fails as AD's
	// constraintViolation; a taken DN fails as entryAlreadyExists.
	mustADUser(t, tn, "nicki")
	if _, err := tn.ReanimateADUser(u.ObjectGUID.String(), "CN=nicki-old,"+usersOU); !errors.Is(err, ErrConflict) {
		t.Fatalf("reanimate with UPN taken: %v, want ErrConflict", err)
	}
	if _, err := tn.ReanimateADUser(u.ObjectGUID.String(), u.DN); !errors.Is(err, ErrExists) {
		t.Fatalf("reanimate onto a taken DN: %v, want ErrExists", err)
	}
}

func TestADModifyAttributes(t *testing.T) {
	tn := New(Config{})
	u := mustADUser(t, tn, "ann")
	arch := anchor.GUID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	got, err := tn.ModifyAD(u.DN, []ADModification{
		{Op: ModReplace, Attr: "msExchArchiveGUID", Values: [][]byte{arch.Bytes()}},
		{Op: ModAdd, Attr: "proxyAddresses", Values: [][]byte{[]byte("smtp:ann.b@contoso.com")}},
		{Op: ModDelete, Attr: "proxyAddresses", Values: [][]byte{[]byte("smtp:ANN@contoso.mail.onmicrosoft.com")}},
		{Op: ModReplace, Attr: "msExchRecipientTypeDetails", Values: [][]byte{[]byte("2147483648")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.ArchiveGUID != arch || got.RecipientTypeDetails != RecipientRemoteUserMailbox {
		t.Fatalf("modify = %+v", got)
	}
	if strings.Join(got.ProxyAddresses, ",") != "SMTP:ann@contoso.com,smtp:ann.b@contoso.com" {
		t.Fatalf("proxyAddresses = %v", got.ProxyAddresses)
	}
	if got.USNChanged <= u.USNChanged {
		t.Fatalf("uSNChanged did not move: %d -> %d", u.USNChanged, got.USNChanged)
	}
	if a := got.Attributes(); string(a["msExchArchiveGUID"][0]) != string(arch.Bytes()) || len(a["objectGUID"][0]) != 16 {
		t.Fatalf("Attributes() = %v", a)
	}
	// A failing modification leaves the object untouched.
	_, err = tn.ModifyAD(u.DN, []ADModification{
		{Op: ModReplace, Attr: "mail", Values: [][]byte{[]byte("x@contoso.com")}},
		{Op: ModReplace, Attr: "objectGUID", Values: [][]byte{arch.Bytes()}},
	})
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("modify objectGUID: %v, want ErrRefused", err)
	}
	if cur, _ := tn.ADUser(u.DN); cur.Mail != u.Mail {
		t.Fatalf("failed modify changed mail to %s", cur.Mail)
	}
	mustADUser(t, tn, "bob")
	if _, err := tn.ModifyAD(u.DN, []ADModification{{Op: ModReplace, Attr: "userPrincipalName", Values: [][]byte{[]byte("bob@contoso.com")}}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate UPN: %v, want ErrConflict", err)
	}
}

func TestADSearchScopes(t *testing.T) {
	tn := New(Config{})
	mustADUser(t, tn, "ann")
	b := mustADUser(t, tn, "bob")
	one, _ := tn.SearchAD(ADQuery{BaseDN: usersOU, Scope: ScopeOneLevel, Match: func(u *ADUser) bool { return u.SAMAccountName == "bob" }})
	if len(one) != 1 || one[0].ObjectGUID != b.ObjectGUID {
		t.Fatalf("one-level search = %v", one)
	}
	base, err := tn.SearchAD(ADQuery{BaseDN: "<GUID=" + b.ObjectGUID.String() + ">"})
	if err != nil || len(base) != 1 {
		t.Fatalf("GUID base search = %v, %v", base, err)
	}
	if _, err := tn.SearchAD(ADQuery{BaseDN: "CN=nobody," + usersOU, Scope: ScopeBase}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("base search of a missing DN: %v", err)
	}
}

// newTestGUID returns a GUID whose bytes are all b.
func newTestGUID(b byte) anchor.GUID {
	var g anchor.GUID
	for i := range g {
		g[i] = b
	}
	return g
}

// TestADReanimateThroughModify is AD's LDAP reanimation: one Modify that
// deletes isDeleted, replaces distinguishedName and restores attributes a
// tombstone lost.
func TestADReanimateThroughModify(t *testing.T) {
	tn := New(Config{})
	u := mustADUser(t, tn, "nicki")
	_ = tn.DeleteADUser(u.DN)
	ref := "<GUID=" + u.ObjectGUID.String() + ">"
	if _, err := tn.ModifyAD(ref, []ADModification{{Op: ModDelete, Attr: "isDeleted"}}); !errors.Is(err, ErrRefused) {
		t.Fatalf("reanimation without a new DN: %v, want ErrRefused", err)
	}
	got, err := tn.ModifyAD(ref, []ADModification{
		{Op: ModDelete, Attr: "isDeleted"},
		{Op: ModReplace, Attr: "distinguishedName", Values: [][]byte{[]byte(u.DN)}},
		{Op: ModReplace, Attr: "userPrincipalName", Values: [][]byte{[]byte(u.UserPrincipalName)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.IsDeleted || got.DN != u.DN || got.UserPrincipalName != u.UserPrincipalName || got.ObjectGUID != u.ObjectGUID {
		t.Fatalf("reanimated = %+v", got)
	}
	if _, err := tn.ModifyAD(u.DN, []ADModification{{Op: ModReplace, Attr: "distinguishedName", Values: [][]byte{[]byte("CN=x," + usersOU)}}}); !errors.Is(err, ErrRefused) {
		t.Fatalf("rename through Modify: %v, want ErrRefused", err)
	}
}

// TestADDeletedObjectLifetimes: without the Recycle Bin a tombstone is
// garbage collected once the tombstone lifetime has passed; with it, a
// deleted object keeps its attributes for the deleted-object lifetime, is
// then recycled (attributes gone, no restore), and collected after another
// tombstone lifetime.
func TestADDeletedObjectLifetimes(t *testing.T) {
	const day = 24 * time.Hour
	t.Run("tombstone", func(t *testing.T) {
		tn := New(Config{TombstoneLifetime: Duration(60 * day)})
		u := mustADUser(t, tn, "nicki")
		if err := tn.DeleteADUser(u.DN); err != nil {
			t.Fatal(err)
		}
		ref := "<GUID=" + u.ObjectGUID.String() + ">"
		_ = tn.Advance(60*day - time.Second)
		if d, err := tn.ADUser(ref); err != nil || !d.IsDeleted {
			t.Fatalf("a second before the lifetime: %+v %v", d, err)
		}
		_ = tn.Advance(time.Second)
		if _, err := tn.ADUser(ref); !errors.Is(err, ErrNotFound) {
			t.Fatalf("past the tombstone lifetime the object is still there: %v", err)
		}
		if l, _ := tn.SearchAD(ADQuery{ShowDeleted: true}); len(l) != 0 {
			t.Fatalf("Show Deleted still lists %d objects", len(l))
		}
	})
	t.Run("recycle bin", func(t *testing.T) {
		tn := New(Config{ADRecycleBin: true, TombstoneLifetime: Duration(180 * day), DeletedObjectLifetime: Duration(30 * day)})
		u := mustADUser(t, tn, "nicki")
		if err := tn.DeleteADUser(u.DN); err != nil {
			t.Fatal(err)
		}
		ref := "<GUID=" + u.ObjectGUID.String() + ">"
		_ = tn.Advance(29 * day)
		if d, _ := tn.ADUser(ref); d.UserPrincipalName == "" || d.IsRecycled {
			t.Fatalf("inside the deleted-object lifetime: %+v", d)
		}
		_ = tn.Advance(day)
		d, err := tn.ADUser(ref)
		if err != nil || !d.IsRecycled || d.UserPrincipalName != "" || len(d.ProxyAddresses) != 0 || d.SAMAccountName != "nicki" {
			t.Fatalf("past the deleted-object lifetime: %+v %v", d, err)
		}
		if a := d.Attributes(); string(a["isRecycled"][0]) != "TRUE" {
			t.Fatalf("LDAP attributes of a recycled object: %v", a["isRecycled"])
		}
		if _, err := tn.ReanimateADUser(ref, ""); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "recycled") {
			t.Fatalf("reanimating a recycled object: %v", err)
		}
		_ = tn.Advance(180*day - time.Second)
		if _, err := tn.ADUser(ref); err != nil {
			t.Fatalf("a recycled object went before its tombstone lifetime: %v", err)
		}
		_ = tn.Advance(time.Second)
		if _, err := tn.ADUser(ref); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a recycled object past the tombstone lifetime: %v", err)
		}
	})
}
