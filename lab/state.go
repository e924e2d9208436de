package lab

import (
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/rebind-dev/rebind/anchor"
)

// State is the whole tenant as JSON: what Save writes, Load reads and a
// scenario file holds. A scenario may add Generate, which Load expands into
// users after reading the rest.
type State struct {
	Description  string       `json:"description,omitempty"`
	Now          time.Time    `json:"now"`
	Seed         string       `json:"seed,omitempty"`
	Seq          uint64       `json:"seq,omitempty"`
	Config       Config       `json:"config"`
	Organization Organization `json:"organization"`
	ADUSN        int64        `json:"adUSN,omitempty"`
	AD           []ADUser     `json:"ad"`
	Users        []CloudUser  `json:"users"`
	Recipients   []Recipient  `json:"recipients"`
	Sync         SyncMemory   `json:"sync"`
	Generate     []Generator  `json:"generate,omitempty"`
	// Apps are the tenant's app registrations besides the lab's default
	// one: a client id, a secret and the application permissions it
	// holds, e.g. an app without Exchange.ManageAsApp.
	Apps []App `json:"apps,omitempty"`
}

// SyncMemory is what the sync engine remembers between cycles, as JSON.
type SyncMemory struct {
	Watermark int64 `json:"watermark,omitempty"`
	// Provisioned lists the anchors this Connect server exported.
	Provisioned []string `json:"provisioned,omitempty"`
	// Pending lists the objectGUIDs of AD users whose export failed.
	Pending     []string    `json:"pending,omitempty"`
	FullPending bool        `json:"fullPending,omitempty"`
	Last        *SyncResult `json:"last,omitempty"`
	LastRun     time.Time   `json:"lastRun,omitzero"`
	Runs        int64       `json:"runs,omitempty"`
	// SchedulerDisabled is Set-ADSyncScheduler -SyncCycleEnabled $false.
	SchedulerDisabled bool `json:"schedulerDisabled,omitempty"`
}

// Generator makes Count users named by Name (a fmt pattern with one
// integer verb, e.g. "user%05d") numbered from Start.
type Generator struct {
	Count int    `json:"count"`
	Name  string `json:"name"`
	Start int    `json:"start,omitempty"`
	// Kind is "synced" (the default: AD user, synced cloud user with a
	// license and a mailbox), "ad" (AD user not yet synced) or "cloud"
	// (cloud-only licensed user).
	Kind string `json:"kind,omitempty"`
	// Domain is the UPN and mail domain, "contoso.com" by default.
	Domain string `json:"domain,omitempty"`
	// Container is the DN users are created in, OU=Users under the domain
	// by default.
	Container string `json:"container,omitempty"`
}

// Save writes the whole state as JSON, objects in a stable order: small
// arrays indented, arrays of 1,000 objects or more one object per line.
func (t *Tenant) Save(w io.Writer) error {
	t.mu.Lock()
	st := t.snapshot()
	t.mu.Unlock()
	if err := writeState(w, st); err != nil {
		return fmt.Errorf("lab: save state: %w", err)
	}
	return nil
}

// snapshot copies the state out; the caller holds the lock.
func (t *Tenant) snapshot() State {
	st := State{Description: t.desc, Now: t.now, Seed: t.seed, Seq: t.seq, Config: t.cfg, Organization: t.org, ADUSN: t.ad.usn,
		AD: make([]ADUser, 0, len(t.ad.byGUID)), Users: make([]CloudUser, 0, len(t.entra.byID)),
		Recipients: make([]Recipient, 0, len(t.exo.byID))}
	for _, u := range t.ad.byGUID {
		st.AD = append(st.AD, *u)
	}
	sort.Slice(st.AD, func(i, j int) bool { return st.AD[i].DN < st.AD[j].DN })
	for _, id := range t.entra.ids() {
		st.Users = append(st.Users, *t.entra.byID[id])
	}
	for _, r := range t.exo.byID {
		st.Recipients = append(st.Recipients, *r)
	}
	sort.Slice(st.Recipients, func(i, j int) bool { return st.Recipients[i].ExchangeObjectID < st.Recipients[j].ExchangeObjectID })
	st.Sync = SyncMemory{Watermark: t.sync.Watermark, FullPending: t.sync.FullPending, Last: t.sync.Last, LastRun: t.sync.LastRun, Runs: t.sync.Runs,
		SchedulerDisabled: t.sync.SchedulerOff}
	for a := range t.sync.Provisioned {
		st.Sync.Provisioned = append(st.Sync.Provisioned, a)
	}
	sort.Strings(st.Sync.Provisioned)
	for g := range t.sync.Pending {
		st.Sync.Pending = append(st.Sync.Pending, g.String())
	}
	sort.Strings(st.Sync.Pending)
	st.Apps = append([]App(nil), t.apps...)
	return st
}

// Load reads a state or scenario written by Save (or by hand) and returns
// the tenant it describes, with its generators expanded. Unknown fields are
// errors, so a misspelt attribute does not load as a missing one.
func Load(r io.Reader) (*Tenant, error) {
	st, err := readState(r)
	if err != nil {
		return nil, fmt.Errorf("lab: load state: %w", err)
	}
	return FromState(st)
}

// FromState builds a tenant from st, checking that its identifiers are
// unique. The tenant takes ownership of st's object arrays: the caller must
// not use them afterwards.
func FromState(st State) (*Tenant, error) {
	for _, d := range st.Config.Domains {
		if d.Name == "" || d.Type != "" && d.Type != "Managed" && d.Type != "Federated" {
			return nil, fmt.Errorf("lab: load state: config.domains: domain %q: %w: type %q (want Managed or Federated)", d.Name, ErrInvalid, d.Type)
		}
	}
	t := New(st.Config)
	t.desc = st.Description
	if !st.Now.IsZero() {
		t.now = st.Now
	}
	if st.Seed != "" {
		t.seed = st.Seed
	}
	t.seq = st.Seq
	if st.Organization.ID != "" {
		t.org = st.Organization
	}
	t.ad.usn = st.ADUSN
	t.reserve(max(len(st.AD), len(st.Users), len(st.Recipients)))
	for i := range st.AD {
		u := &st.AD[i] // the tenant keeps st's arrays as its storage
		if u.ObjectGUID.IsZero() {
			u.ObjectGUID = t.newGUID()
		}
		if u.CN == "" {
			u.CN = rdnValue(u.DN)
		}
		if t.ad.byGUID[u.ObjectGUID] != nil || t.ad.byDN[fold(u.DN)] != nil {
			return nil, fmt.Errorf("lab: load state: AD user %s: %w", u.DN, ErrExists)
		}
		if u.USNChanged == 0 {
			t.ad.usn++
			u.USNChanged = t.ad.usn
		}
		t.ad.index(u)
	}
	for i := range st.Users {
		u := &st.Users[i]
		if u.ID == "" {
			u.ID = t.newGUID().String()
		}
		u.ID = fold(u.ID)
		if t.entra.byID[u.ID] != nil {
			return nil, fmt.Errorf("lab: load state: cloud user %s: %w", u.ID, ErrExists)
		}
		if u.Deleted() && t.cfg.DeletedUPNPrefix {
			// A scenario may list a deleted user under its original UPN;
			// in a tenant that prefixes it, it shows prefixed
			// (deleted_upn.go). Without the setting a prefixed UPN (a
			// snapshot's) is kept as the tenant showed it.
			u.UserPrincipalName = prefixedUPN(u)
		}
		t.entra.add(u)
	}
	for i := range st.Recipients {
		r := &st.Recipients[i]
		if r.ExchangeObjectID == "" {
			r.ExchangeObjectID = t.newGUID().String()
		}
		if t.exo.byID[r.ExchangeObjectID] != nil {
			return nil, fmt.Errorf("lab: load state: recipient %s: %w", r.ExchangeObjectID, ErrExists)
		}
		t.exo.index(r)
	}
	t.sync.Watermark, t.sync.FullPending, t.sync.Last, t.sync.LastRun, t.sync.Runs = st.Sync.Watermark, st.Sync.FullPending, st.Sync.Last, st.Sync.LastRun, st.Sync.Runs
	t.sync.SchedulerOff = st.Sync.SchedulerDisabled
	for _, a := range st.Sync.Provisioned {
		t.sync.Provisioned[a] = true
	}
	for _, s := range st.Sync.Pending {
		g, err := anchor.ParseGUID(s)
		if err != nil {
			return nil, fmt.Errorf("lab: load state: sync pending: %w", err)
		}
		t.sync.Pending[g] = true
	}
	for _, g := range st.Generate {
		if err := t.generate(g); err != nil {
			return nil, err
		}
	}
	seen := map[string]bool{strings.ToLower(DefaultAppID): true}
	for i, app := range st.Apps {
		switch id := strings.ToLower(app.ClientID); {
		case id == "" || (app.Secret == "" && len(app.Certificates) == 0):
			return nil, fmt.Errorf("lab: load state: apps[%d] (%q): an app needs a clientId and a secret or a certificate", i, app.Name)
		case seen[id]:
			return nil, fmt.Errorf("lab: load state: apps[%d] (%q): clientId %s is taken (the lab's default app or another)", i, app.Name, app.ClientID)
		default:
			seen[id] = true
		}
		for j, c := range app.Certificates {
			if blk, _ := pem.Decode([]byte(c)); blk == nil || blk.Type != "CERTIFICATE" {
				return nil, fmt.Errorf("lab: load state: apps[%d] (%q): certificates[%d] is not a PEM certificate", i, app.Name, j)
			} else if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
				return nil, fmt.Errorf("lab: load state: apps[%d] (%q): certificates[%d]: %w", i, app.Name, j, err)
			}
		}
		t.apps = append(t.apps, App{Name: app.Name, ClientID: app.ClientID, Secret: app.Secret,
			Certificates: append([]string(nil), app.Certificates...), Roles: append([]string(nil), app.Roles...)})
	}
	return t, nil
}

// ScenarioDir is where scenario files live, relative to this package's
// directory (lab/) and to the root of ScenarioFiles.
const ScenarioDir = "scenarios"

// ScenarioFiles holds scenarios/*.json, the bundled scenarios, embedded so
// that `rebind lab serve --scenario NAME` and `rebind rehearse` work from
// any directory; open one with LoadScenario(ScenarioFiles, name).
//
//go:embed scenarios/*.json
var ScenarioFiles embed.FS

// Scenarios lists the scenario names in fsys (which holds ScenarioDir).
func Scenarios(fsys fs.FS) ([]string, error) {
	ents, err := fs.ReadDir(fsys, ScenarioDir)
	if err != nil {
		return nil, fmt.Errorf("lab: list scenarios: %w", err)
	}
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && !e.IsDir() {
			names = append(names, n)
		}
	}
	return names, nil
}

// LoadScenario loads the scenario called name from fsys.
func LoadScenario(fsys fs.FS, name string) (*Tenant, error) {
	f, err := fsys.Open(path.Join(ScenarioDir, name+".json"))
	if err != nil {
		return nil, fmt.Errorf("lab: scenario %s: %w", name, err)
	}
	defer f.Close()
	t, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("lab: scenario %s: %w", name, err)
	}
	return t, nil
}
