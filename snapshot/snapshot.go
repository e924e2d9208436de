// Package snapshot reads, read-only and through the public APIs only
// (Microsoft Graph, the Exchange admin API, LDAP), the state rebind's
// runbooks depend on: users including deleted ones, the organization and
// its domains, the directory synchronisation switches, Exchange recipients
// including soft-deleted ones and their holds, and AD users including
// Deleted Objects. A snapshot is a JSON file: `rebind lab serve --snapshot`
// and `rebind rehearse --snapshot` load it as a lab tenant (the lab imports
// this package, never the other way), and `rebind diagnose` analyses it.
//
// Each object is kept in the shape its API answers it, with the names
// Graph, Exchange and AD use. What the public APIs do not show is not in
// a snapshot, and Snapshot.NotRead says what that is.
package snapshot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Format names the file format; a file of another format is refused.
const Format = "rebind-snapshot/1"

// Snapshot is one reading of a tenant.
type Snapshot struct {
	Format string `json:"format"`
	// TakenAt is the service's time when the reading began (Graph's Date
	// header), which a lab loaded from the snapshot takes as its clock.
	TakenAt time.Time `json:"takenAt"`
	// Redacted is set when names and addresses are keyed pseudonyms.
	Redacted bool `json:"redacted,omitempty"`
	// Reads says what was read, in how many requests.
	Reads []Reading `json:"reads"`
	// Permissions lists what the reads needed.
	Permissions []string `json:"permissions"`
	// NotRead lists what the snapshot does not hold and why.
	NotRead []string `json:"notRead,omitempty"`

	Organization Organization `json:"organization"`
	// DirSync holds the tenant's synchronisation switches; nil when Graph
	// refused the read (it serves it to a signed-in Global Administrator
	// only).
	DirSync    *DirSyncFeatures `json:"dirSyncFeatures,omitempty"`
	Users      []User           `json:"users"`
	Recipients []Recipient      `json:"recipients"`
	AD         AD               `json:"ad"`
}

// Reading is one bulk read: the API, what it listed, the requests it took and
// the objects it returned.
type Reading struct {
	API      string `json:"api"`
	What     string `json:"what"`
	Requests int    `json:"requests"`
	Objects  int    `json:"objects"`
	// Took is how long the read took.
	Took Duration `json:"took"`
	// Error is why the read failed, when it did and the snapshot went on.
	Error string `json:"error,omitempty"`
}

// Organization is Graph's organization with its verified domains.
type Organization struct {
	ID                         string     `json:"id"`
	DisplayName                string     `json:"displayName"`
	OnPremisesSyncEnabled      *bool      `json:"onPremisesSyncEnabled"`
	OnPremisesLastSyncDateTime *time.Time `json:"onPremisesLastSyncDateTime,omitempty"`
	VerifiedDomains            []Domain   `json:"verifiedDomains"`
}

// Domain is Graph's verifiedDomain.
type Domain struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	IsDefault bool   `json:"isDefault,omitempty"`
	IsInitial bool   `json:"isInitial,omitempty"`
}

// InitialDomain is the tenant's .onmicrosoft.com domain, "" when unknown.
func (o Organization) InitialDomain() string {
	for _, d := range o.VerifiedDomains {
		if d.IsInitial {
			return d.Name
		}
	}
	return ""
}

// DomainType returns the type ("Managed" or "Federated") of the verified
// domain name belongs to, "" when it is not a verified domain.
func (o Organization) DomainType(name string) string {
	for _, d := range o.VerifiedDomains {
		if strings.EqualFold(d.Name, name) {
			return d.Type
		}
	}
	return ""
}

// DirSyncFeatures are the onPremisesDirectorySynchronizationFeature
// switches rebind's runbooks depend on.
type DirSyncFeatures struct {
	BlockSoftMatchEnabled                           bool `json:"blockSoftMatchEnabled"`
	BlockCloudObjectTakeoverThroughHardMatchEnabled bool `json:"blockCloudObjectTakeoverThroughHardMatchEnabled"`
}

// User is a Graph user, active or in the recycle bin.
type User struct {
	ID                           string              `json:"id"`
	DisplayName                  string              `json:"displayName,omitempty"`
	UserPrincipalName            string              `json:"userPrincipalName"`
	Mail                         string              `json:"mail,omitempty"`
	MailNickname                 string              `json:"mailNickname,omitempty"`
	ProxyAddresses               []string            `json:"proxyAddresses,omitempty"`
	AccountEnabled               bool                `json:"accountEnabled"`
	OnPremisesImmutableID        string              `json:"onPremisesImmutableId,omitempty"`
	OnPremisesSyncEnabled        *bool               `json:"onPremisesSyncEnabled"`
	OnPremisesLastSyncDateTime   *time.Time          `json:"onPremisesLastSyncDateTime,omitempty"`
	OnPremisesDistinguishedName  string              `json:"onPremisesDistinguishedName,omitempty"`
	OnPremisesSamAccountName     string              `json:"onPremisesSamAccountName,omitempty"`
	OnPremisesUserPrincipalName  string              `json:"onPremisesUserPrincipalName,omitempty"`
	AssignedLicenses             []string            `json:"assignedLicenses,omitempty"`
	LastPasswordChangeDateTime   *time.Time          `json:"lastPasswordChangeDateTime,omitempty"`
	OnPremisesProvisioningErrors []ProvisioningError `json:"onPremisesProvisioningErrors,omitempty"`
	ServiceProvisioningErrors    []ServiceError      `json:"serviceProvisioningErrors,omitempty"`
	CreatedDateTime              time.Time           `json:"createdDateTime"`
	DeletedDateTime              *time.Time          `json:"deletedDateTime,omitempty"`
}

// Synced reports whether Connect manages the user.
func (u *User) Synced() bool { return u.OnPremisesSyncEnabled != nil && *u.OnPremisesSyncEnabled }

// Deleted reports whether the user is in the recycle bin.
func (u *User) Deleted() bool { return u.DeletedDateTime != nil }

// ProvisioningError is Graph's onPremisesProvisioningError.
type ProvisioningError struct {
	Category             string    `json:"category"`
	OccurredDateTime     time.Time `json:"occurredDateTime"`
	PropertyCausingError string    `json:"propertyCausingError"`
	Value                string    `json:"value"`
}

// ServiceError is Graph's serviceProvisioningXmlError.
type ServiceError struct {
	CreatedDateTime time.Time `json:"createdDateTime"`
	IsResolved      bool      `json:"isResolved"`
	ServiceInstance string    `json:"serviceInstance"`
	ErrorDetail     string    `json:"errorDetail"`
}

// Recipient is an Exchange Online mailbox or mail user as Get-Mailbox and
// Get-MailUser show it, soft-deleted ones included.
type Recipient struct {
	ExchangeObjectID          string     `json:"ExchangeObjectId"`
	ExternalDirectoryObjectID string     `json:"ExternalDirectoryObjectId,omitempty"`
	RecipientTypeDetails      string     `json:"RecipientTypeDetails"`
	Alias                     string     `json:"Alias"`
	DisplayName               string     `json:"DisplayName,omitempty"`
	UserPrincipalName         string     `json:"UserPrincipalName"`
	PrimarySMTPAddress        string     `json:"PrimarySmtpAddress"`
	EmailAddresses            []string   `json:"EmailAddresses,omitempty"`
	ExchangeGUID              string     `json:"ExchangeGuid,omitempty"`
	ArchiveGUID               string     `json:"ArchiveGuid,omitempty"`
	LitigationHoldEnabled     bool       `json:"LitigationHoldEnabled,omitempty"`
	InPlaceHolds              []string   `json:"InPlaceHolds,omitempty"`
	DelayHoldApplied          bool       `json:"DelayHoldApplied,omitempty"`
	DelayReleaseHoldApplied   bool       `json:"DelayReleaseHoldApplied,omitempty"`
	ComplianceTagHoldApplied  bool       `json:"ComplianceTagHoldApplied,omitempty"`
	WhenSoftDeleted           *time.Time `json:"WhenSoftDeleted,omitempty"`
}

// SoftDeleted reports whether the recipient is soft-deleted.
func (r *Recipient) SoftDeleted() bool { return r.WhenSoftDeleted != nil }

// AD is the domain's users, Deleted Objects included.
type AD struct {
	// DomainDN is the default naming context (rootDSE).
	DomainDN string   `json:"domainDN"`
	Users    []ADUser `json:"users"`
}

// ADUser is an AD user as LDAP returns it; GUIDs in their canonical text
// form (objectGUID's bytes in AD order, as package anchor reads them).
type ADUser struct {
	ObjectGUID           string     `json:"objectGUID"`
	DistinguishedName    string     `json:"distinguishedName"`
	CN                   string     `json:"cn,omitempty"`
	SAMAccountName       string     `json:"sAMAccountName,omitempty"`
	UserPrincipalName    string     `json:"userPrincipalName,omitempty"`
	DisplayName          string     `json:"displayName,omitempty"`
	Mail                 string     `json:"mail,omitempty"`
	ProxyAddresses       []string   `json:"proxyAddresses,omitempty"`
	ConsistencyGUID      string     `json:"mS-DS-ConsistencyGuid,omitempty"`
	MailNickname         string     `json:"mailNickname,omitempty"`
	MailboxGUID          string     `json:"msExchMailboxGuid,omitempty"`
	ArchiveGUID          string     `json:"msExchArchiveGUID,omitempty"`
	TargetAddress        string     `json:"targetAddress,omitempty"`
	RecipientTypeDetails int64      `json:"msExchRecipientTypeDetails,omitempty"`
	RemoteRecipientType  int64      `json:"msExchRemoteRecipientType,omitempty"`
	RecipientDisplayType int64      `json:"msExchRecipientDisplayType,omitempty"`
	IsDeleted            bool       `json:"isDeleted,omitempty"`
	IsRecycled           bool       `json:"isRecycled,omitempty"`
	LastKnownParent      string     `json:"lastKnownParent,omitempty"`
	WhenChanged          time.Time  `json:"whenChanged"`
	USNChanged           int64      `json:"uSNChanged"`
	PwdLastSet           *time.Time `json:"pwdLastSet,omitempty"`
	UserAccountControl   int64      `json:"userAccountControl,omitempty"`
}

// Write writes s as JSON: the header fields indented, then each user,
// recipient and AD user on a line of its own, one at a time, so a
// 100,000-user snapshot is not held a second time as text.
func (s *Snapshot) Write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	// The header is s's own fields but the three lists: fields of the
	// outer struct hide the embedded Snapshot's of the same JSON name
	// (encoding/json: the less nested field wins), and these are left
	// out, empty.
	head := struct {
		*Snapshot
		Users      []User      `json:"users,omitempty"`
		Recipients []Recipient `json:"recipients,omitempty"`
		AD         *AD         `json:"ad,omitempty"`
	}{Snapshot: s}
	b, err := json.MarshalIndent(head, "", " ")
	if err != nil {
		return fmt.Errorf("snapshot: write: %w", err)
	}
	// The header without its closing brace; the arrays follow.
	bw.Write(bytes.TrimSuffix(bytes.TrimSpace(b), []byte("}")))
	array := func(name string, n int, elem func(i int) any) error {
		fmt.Fprintf(bw, "%q: [", name)
		for i := 0; i < n; i++ {
			if i > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString("\n  ")
			e, err := json.Marshal(elem(i))
			if err != nil {
				return fmt.Errorf("snapshot: write: %s[%d]: %w", name, i, err)
			}
			bw.Write(e)
		}
		if n > 0 {
			bw.WriteString("\n ")
		}
		bw.WriteByte(']')
		return nil
	}
	bw.WriteString(",\n ")
	if err := array("users", len(s.Users), func(i int) any { return &s.Users[i] }); err != nil {
		return err
	}
	bw.WriteString(",\n ")
	if err := array("recipients", len(s.Recipients), func(i int) any { return &s.Recipients[i] }); err != nil {
		return err
	}
	dn, _ := json.Marshal(s.AD.DomainDN)
	fmt.Fprintf(bw, ",\n \"ad\": {\"domainDN\": %s, ", dn)
	if err := array("users", len(s.AD.Users), func(i int) any { return &s.AD.Users[i] }); err != nil {
		return err
	}
	bw.WriteString("}\n}\n")
	return bw.Flush()
}

// WriteFile writes s to path (0600: a snapshot names people).
func (s *Snapshot) WriteFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := s.Write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// MaxFileSize bounds the snapshot file rebind reads: 100,000 users with
// their recipients and AD objects take about 200 MB.
const MaxFileSize = 2 << 30

// Read reads a snapshot, refusing unknown fields (a misspelt attribute does
// not load as a missing one) and a file of another format.
func Read(r io.Reader) (*Snapshot, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(io.LimitReader(r, MaxFileSize), 1<<16))
	dec.DisallowUnknownFields()
	var s Snapshot
	if err := dec.Decode(&s); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("snapshot: byte %d: %w", se.Offset, err)
		case errors.As(err, &te):
			return nil, fmt.Errorf("snapshot: byte %d: field %s: %w", te.Offset, te.Field, err)
		}
		// An unknown field's error names the field but not where it is.
		return nil, fmt.Errorf("snapshot: near byte %d: %w", dec.InputOffset(), err)
	}
	if s.Format != Format {
		return nil, fmt.Errorf("snapshot: format %q, want %q (a file `rebind snapshot` wrote)", s.Format, Format)
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	return &s, nil
}

// ReadFile reads the snapshot at path; errors name the file.
func ReadFile(path string) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	defer f.Close()
	s, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Check verifies what a lab or an analysis relies on: every object has its
// identifier, unique in its directory.
func (s *Snapshot) Check() error {
	seen := map[string]bool{}
	for i, u := range s.Users {
		if u.ID == "" || u.UserPrincipalName == "" {
			return fmt.Errorf("snapshot: users[%d] (%q): id and userPrincipalName are required", i, u.UserPrincipalName)
		}
		if seen[strings.ToLower(u.ID)] {
			return fmt.Errorf("snapshot: users[%d]: id %s appears twice", i, u.ID)
		}
		seen[strings.ToLower(u.ID)] = true
	}
	seen = map[string]bool{}
	for i, r := range s.Recipients {
		if r.ExchangeObjectID == "" {
			return fmt.Errorf("snapshot: recipients[%d] (%q): ExchangeObjectId is required", i, r.Alias)
		}
		if seen[strings.ToLower(r.ExchangeObjectID)] {
			return fmt.Errorf("snapshot: recipients[%d]: ExchangeObjectId %s appears twice", i, r.ExchangeObjectID)
		}
		seen[strings.ToLower(r.ExchangeObjectID)] = true
	}
	seen = map[string]bool{}
	for i, u := range s.AD.Users {
		if u.ObjectGUID == "" || u.DistinguishedName == "" {
			return fmt.Errorf("snapshot: ad.users[%d] (%q): objectGUID and distinguishedName are required", i, u.DistinguishedName)
		}
		if seen[strings.ToLower(u.ObjectGUID)] {
			return fmt.Errorf("snapshot: ad.users[%d] (%s): objectGUID %s appears twice", i, u.DistinguishedName, u.ObjectGUID)
		}
		seen[strings.ToLower(u.ObjectGUID)] = true
	}
	return nil
}

// Duration is a time.Duration written as text ("1.5s").
type Duration time.Duration

// MarshalText writes the duration in time.Duration's notation.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads what MarshalText writes.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}
