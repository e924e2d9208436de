// Package lab is rebind's lab tenant: an in-memory model of an Active
// Directory domain, the Entra ID tenant it is synchronised to by Entra Connect,
// and the Exchange Online organisation behind it, with a virtual clock.
//
// The model behaves as ../shared/DOMAIN.md describes a real hybrid tenant, so
// that a runbook rehearsed here fails the way it would fail in production:
// hard and soft matching, duplicate attribute resiliency, the deletion
// threshold, the 72-hour directory sync switch, the 30-day recycle bins and
// the Exchange GUID validation errors. Time passes only through Advance, so
// retention periods run out in microseconds.
//
// Every exported method of Tenant is safe for concurrent use: one mutex
// guards the whole state. Methods return copies; the slices inside a copy are
// shared with the model and must be treated as read-only (the model itself
// never changes a slice in place, it replaces it).
//
// The package holds no protocol code: lab/labhttp serves the model over
// HTTP (Graph, the Exchange admin API, tokens, the control API) and
// lab/ldapserver over LDAP, both through Tenant's exported methods;
// lab/instance runs them. The bundled scenarios are embedded here
// (ScenarioFiles).
package lab

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rebind-dev/rebind/anchor"
)

// Errors wrapped by the model. The protocol servers map them to Graph status
// codes, Exchange errors and LDAP result codes.
var (
	// ErrNotFound reports an object that does not exist (or not in the
	// state the operation needs, such as a user that is not deleted).
	ErrNotFound = errors.New("lab: object not found")
	// ErrExists reports an object whose name is already taken (LDAP 68
	// entryAlreadyExists).
	ErrExists = errors.New("lab: object already exists")
	// ErrConflict reports a value that must be unique and is held by
	// another object (LDAP 19 constraintViolation, Graph 400).
	ErrConflict = errors.New("lab: value held by another object")
	// ErrRefused reports an operation the directory is unwilling to perform
	// in the object's current state (LDAP 53, Graph 400).
	ErrRefused = errors.New("lab: operation refused")
	// ErrInvalid reports a malformed argument.
	ErrInvalid = errors.New("lab: invalid argument")
)

// Config holds the tenant's fixed settings. The zero value of each field
// means its documented default.
type Config struct {
	// DomainDN is the AD domain's distinguished name,
	// "DC=corp,DC=example,DC=com" by default.
	DomainDN string `json:"domainDN,omitempty"`
	// TenantDomain is the initial onmicrosoft.com domain, used for
	// quarantined UPNs and remote routing addresses.
	TenantDomain string `json:"tenantDomain,omitempty"`
	// ADRecycleBin turns on the AD Recycle Bin: deleted objects keep all
	// their attributes instead of becoming tombstones.
	ADRecycleBin bool `json:"adRecycleBin,omitempty"`
	// SyncScope lists the container DNs Entra Connect synchronises; empty
	// means the whole domain.
	SyncScope []string `json:"syncScope,omitempty"`
	// DeletionThreshold is the most deletions one sync export may carry
	// (500 by default; negative disables the check).
	DeletionThreshold int `json:"deletionThreshold,omitempty"`
	// SyncDisableDelay is how long turning directory sync off takes before
	// synced users are cloud-managed (72 h by default).
	SyncDisableDelay Duration `json:"syncDisableDelay,omitempty"`
	// Retention is how long deleted cloud users and soft-deleted recipients
	// are kept (30 days by default).
	Retention Duration `json:"retention,omitempty"`
	// TombstoneLifetime is how long AD keeps a tombstone, or a recycled
	// object, before garbage collection removes it for good (the forest's
	// tombstoneLifetime; 180 days by default on forests created since
	// Windows Server 2003 SP1).
	TombstoneLifetime Duration `json:"tombstoneLifetime,omitempty"`
	// DeletedObjectLifetime is how long, with the AD Recycle Bin on, a
	// deleted object keeps its attributes and can be restored, before it
	// becomes a recycled object (msDS-deletedObjectLifetime; the tombstone
	// lifetime by default).
	DeletedObjectLifetime Duration `json:"deletedObjectLifetime,omitempty"`
	// SyncInterval makes Entra Connect's scheduler run a delta cycle this
	// long after the previous cycle as the clock advances (Connect's
	// default is 30m; every bundled scenario sets it). Zero, the default
	// of a tenant made in code, runs cycles only when asked, so tests
	// decide when sync happens.
	SyncInterval Duration `json:"syncInterval,omitempty"`
	// Domains lists the tenant's verified domains besides the initial
	// one (TenantDomain, always managed), as Graph's organization
	// verifiedDomains shows them.
	Domains []Domain `json:"domains,omitempty"`
	// DeletedUPNPrefix makes a user moved to the recycle bin (deleted
	// through Graph or by sync) show its UPN prefixed with its object id
	// without dashes, as field reports show real tenants do; off by
	// default, since no Microsoft page documents either form
	// (deleted_upn.go).
	DeletedUPNPrefix bool `json:"deletedUPNPrefix,omitempty"`
}

// Domain is one verified domain and how its users sign in.
type Domain struct {
	Name string `json:"name"`
	// Type is "Managed" (the default) or "Federated", as Graph's
	// verifiedDomain.type and domain.authenticationType name them
	// (learn.microsoft.com/graph/api/resources/domain).
	Type string `json:"type,omitempty"`
}

// federated reports whether upn's domain is one of the tenant's federated
// domains.
func (c Config) federated(upn string) bool {
	_, dom, ok := strings.Cut(upn, "@")
	if !ok {
		return false
	}
	for _, d := range c.Domains {
		if strings.EqualFold(d.Name, dom) {
			return strings.EqualFold(d.Type, "Federated")
		}
	}
	return false
}

func (c Config) withDefaults() Config {
	if c.DomainDN == "" {
		c.DomainDN = "DC=corp,DC=example,DC=com"
	}
	if c.TenantDomain == "" {
		c.TenantDomain = "contoso.onmicrosoft.com"
	}
	if c.DeletionThreshold == 0 {
		c.DeletionThreshold = 500
	}
	if c.SyncDisableDelay == 0 {
		c.SyncDisableDelay = Duration(72 * time.Hour)
	}
	if c.Retention == 0 {
		c.Retention = Duration(30 * 24 * time.Hour)
	}
	if c.TombstoneLifetime == 0 {
		c.TombstoneLifetime = Duration(180 * 24 * time.Hour)
	}
	if c.DeletedObjectLifetime == 0 {
		c.DeletedObjectLifetime = c.TombstoneLifetime
	}
	return c
}

// Duration is a time.Duration that reads and writes JSON as "72h0m0s".
type Duration time.Duration

// MarshalText writes the duration in time.Duration's notation.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalText reads a duration such as "72h" or "720h".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%w: duration %q: %v", ErrInvalid, b, err)
	}
	*d = Duration(v)
	return nil
}

// Epoch is the virtual clock's start when a state does not name one.
var Epoch = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// Tenant is the whole lab: AD, Entra ID, Exchange Online, the sync engine
// and the virtual clock, guarded by one mutex.
type Tenant struct {
	mu    sync.Mutex
	desc  string
	cfg   Config
	now   time.Time
	seed  string
	seq   uint64
	org   Organization
	ad    adStore
	entra entraStore
	exo   exoStore
	sync  syncState
	// apps are the app registrations a scenario declares.
	apps []App
}

// Apps returns the app registrations the tenant's scenario declares.
func (t *Tenant) Apps() []App {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]App, len(t.apps))
	for i, a := range t.apps {
		a.Roles = append([]string(nil), a.Roles...)
		out[i] = a
	}
	return out
}

// New returns an empty tenant with cfg's settings, its clock at Epoch and
// directory sync on.
func New(cfg Config) *Tenant {
	t := &Tenant{cfg: cfg.withDefaults(), now: Epoch, seed: "rebind-lab"}
	t.ad.init()
	t.entra.init()
	t.exo.init()
	t.sync.init()
	on := true
	t.org = Organization{ID: t.newGUID().String(), DisplayName: "Contoso", OnPremisesSyncEnabled: &on}
	return t
}

// Config returns the tenant's settings with defaults filled in.
func (t *Tenant) Config() Config {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cfg
}

// Description returns what the scenario the tenant was loaded from says it
// reproduces.
func (t *Tenant) Description() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.desc
}

// Now returns the virtual time.
func (t *Tenant) Now() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.now
}

// Advance moves the virtual clock forward by d and lets everything that was
// waiting for that time happen, in order: the directory sync switch finishes
// turning off, AD deleted objects past their lifetime are recycled or
// garbage collected, cloud users leave the recycle bin, soft-deleted recipients
// without a hold are purged, quarantined values that are free again are given
// back (hourly), and, when Config.SyncInterval is set, the scheduled delta
// cycles run at their times. Negative durations are
// refused.
func (t *Tenant) Advance(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("lab: advance clock by %s: %w: time only moves forward", d, ErrInvalid)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	target := t.now.Add(d)
	if t.cfg.SyncInterval.D() > 0 && t.sync.LastRun.IsZero() {
		t.sync.LastRun = t.now
	}
	for next, ok := t.nextScheduled(); ok && !next.After(target); next, ok = t.nextScheduled() {
		t.now = next
		t.expire()
		// A scheduled cycle that fails (sync off, threshold) is reported
		// in LastSync, as Connect's run history shows it. syncCycle
		// moves LastRun to now, so the loop ends.
		_, _ = t.syncCycle(Delta)
	}
	t.now = target
	t.expire()
	return nil
}

// expire applies every time-driven change due at t.now.
func (t *Tenant) expire() {
	t.finishSyncDisable()
	t.collectDeleted()
	t.entra.expire(t.now, t.cfg.Retention.D())
	t.exo.expire(t.now, t.cfg.Retention.D())
	t.sweepQuarantine()
}

// newGUID returns a fresh GUID. GUIDs derive from the tenant's seed and a
// counter kept in its state, so a scenario replays to the same identifiers.
func (t *Tenant) newGUID() anchor.GUID {
	t.seq++
	var buf [96]byte
	b := binary.BigEndian.AppendUint64(append(buf[:0], t.seed...), t.seq)
	sum := sha256.Sum256(b)
	var g anchor.GUID
	copy(g[:], sum[:16])
	g[6] = g[6]&0x0f | 0x40 // version 4
	g[8] = g[8]&0x3f | 0x80 // RFC 4122 variant
	return g
}

// cycleID names sync cycle n. It derives from the seed apart from newGUID's
// counter, so that running a cycle does not change the identifiers objects
// created later receive.
func (t *Tenant) cycleID(n int64) string {
	var buf [96]byte
	b := binary.BigEndian.AppendUint64(append(append(buf[:0], t.seed...), "sync-cycle"...), uint64(n))
	sum := sha256.Sum256(b)
	var g anchor.GUID
	copy(g[:], sum[:16])
	g[6] = g[6]&0x0f | 0x40
	g[8] = g[8]&0x3f | 0x80
	return g.String()
}

// fold returns the case-insensitive key of a name or address.
func fold(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// timePtr returns a pointer to a copy of v.
func timePtr(v time.Time) *time.Time { return &v }

// boolPtr returns a pointer to a copy of v.
func boolPtr(v bool) *bool { return &v }
