// Package plan holds rebind's change plan: what a runbook will do to the
// directories, as observed at a point in time. A plan is the artefact people
// review: it carries the runbook sources, the non-secret inputs, the targets
// without credentials, every observed object with a fingerprint, every change
// (before -> after), the approval policy, and when it was made and expires.
//
// Its digest is the SHA-256 of its canonical bytes: the JSON encoding of
// every field except the signatures, with object keys in a fixed order.
// Approvals sign the digest, so any change to the plan's bytes voids them.
package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/rebind-dev/rebind/steps"
)

// FormatVersion is the plan file format this build writes and reads.
const FormatVersion = 1

// ErrFormat is wrapped by errors reading a plan file that is not one.
var ErrFormat = errors.New("plan: not a rebind plan")

// Plan is a reviewed, signable description of a run.
type Plan struct {
	FormatVersion int `json:"format_version"`
	// Runbook identifies what was planned, with its sources so the plan is
	// self-contained.
	Runbook Runbook `json:"runbook"`
	// Inputs are the non-secret variable values, as typed JSON (see Value).
	Inputs map[string]Value `json:"inputs"`
	// SecretInputs names the sensitive variables that were left out and
	// must be given again at apply.
	SecretInputs []string `json:"secret_inputs,omitempty"`
	// Lab is the lab tenant URL all targets were bound to, "" for real
	// directories.
	Lab string `json:"lab,omitempty"`
	// Targets are the runbook's targets with their non-secret settings.
	Targets []Target `json:"targets"`
	// Environment is the environment file the targets' settings came
	// from, nil when there was none. Apply, resume and rollback refuse to
	// run the plan with an environment that gives its targets other
	// settings.
	Environment *Environment `json:"environment,omitempty"`
	// Steps in run order; data blocks first.
	Steps []Step `json:"steps"`
	// Permissions is the union of what the steps need.
	Permissions []string `json:"permissions"`
	// Approvals is the policy the runbook sets.
	Approvals Policy `json:"approvals"`
	// Author is who made the plan (a name, and an SSH public key when the
	// author signed it with plan --key).
	Author    string    `json:"author"`
	AuthorKey string    `json:"author_key,omitempty"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
	// KeyID names (by a digest, never the key itself) the state
	// directory key that the fingerprints and labels of the plan's
	// sensitive values are keyed with; empty when there are none. Only
	// the state directory holding that key can check them at apply.
	KeyID string `json:"key_id,omitempty"`

	// Signatures are approvals over Digest(); they are not part of it.
	Signatures []Signature `json:"signatures,omitempty"`
}

// Runbook identifies the planned runbook.
type Runbook struct {
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Digest is the SHA-256 over the sources (see SourcesDigest).
	Digest string `json:"digest"`
	// Sources maps file names to their text.
	Sources map[string]string `json:"sources"`
	// Dir is the folder the runbook was read from; file() and relative
	// paths resolve from it ("" for runbooks built into rebind).
	Dir string `json:"dir,omitempty"`
}

// Target is one target block, without credentials.
type Target struct {
	Type   string `json:"type"`
	Name   string `json:"name"`
	Config Value  `json:"config"`
}

// Environment records the environment a plan was made against.
type Environment struct {
	// File is the path the environment was read from, as given.
	File string `json:"file"`
	// Digest is the SHA-256 over Settings (environment.Settings.Digest).
	Digest string `json:"digest"`
	// Settings are the environment's settings of the plan's targets, by
	// "TYPE.NAME" and setting name, each a cty JSON value with its type.
	Settings map[string]map[string]json.RawMessage `json:"settings"`
}

// Policy is a runbook's approval policy.
type Policy struct {
	// Required distinct reviewers, the author excluded.
	Required int `json:"required"`
	// IrreversibleRequired applies instead when the plan contains an
	// irreversible change and it is larger.
	IrreversibleRequired int `json:"irreversible_required,omitempty"`
}

// Step is one data or step block of the plan.
type Step struct {
	Address            string     `json:"address"`
	Mode               string     `json:"mode"` // "data" or "step"
	Type               string     `json:"type"`
	Kind               string     `json:"kind"` // data, ensure, action
	Reversibility      string     `json:"reversibility"`
	IrreversibleReason string     `json:"irreversible_reason,omitempty"`
	RepeatSafe         bool       `json:"repeat_safe"`
	Await              string     `json:"await,omitempty"`
	Permissions        []string   `json:"permissions,omitempty"`
	Instances          []Instance `json:"instances"`
}

// Instance is one step instance: the step itself, or one key of a fan-out.
type Instance struct {
	Address string `json:"address"`
	Key     string `json:"key,omitempty"`
	// Object names what was observed ("entra:user:alice@contoso.com").
	Object string `json:"object,omitempty"`
	// Fingerprint is the SHA-256 of the observation's canonical JSON; apply
	// refuses when it changed (drift).
	Fingerprint string `json:"fingerprint,omitempty"`
	Observed    Value  `json:"observed,omitempty"`
	// Action is what will happen: no-op, create, update, delete, run, read,
	// or "deferred" when the step's arguments depend on earlier steps.
	Action string `json:"action"`
	Before Value  `json:"before,omitempty"`
	After  Value  `json:"after,omitempty"`
	// Irreversible is set when this instance's change cannot be undone.
	Irreversible bool `json:"irreversible,omitempty"`
	// Notes are plan-time remarks (a precondition deferred to apply, ...).
	Notes []string `json:"notes,omitempty"`
}

// NewStep is the header of a plan step for a block of the given address,
// mode ("data" or "step") and type: everything in it but the instances and
// the await comes from the step type's own declaration, so that whoever
// checks a plan can compute it again and compare.
func NewStep(address, mode, typ string, info steps.Info) Step {
	return Step{
		Address:            address,
		Mode:               mode,
		Type:               typ,
		Kind:               info.Kind.String(),
		Reversibility:      info.Reversibility.String(),
		IrreversibleReason: info.IrreversibleReason,
		RepeatSafe:         info.RepeatSafe || info.Kind == steps.KindEnsure,
		Permissions:        info.Permissions,
		Instances:          []Instance{},
	}
}

// ActionDeferred marks an instance whose arguments are not known until
// earlier steps have run.
const ActionDeferred = "deferred"

// Signature is an approval: an SSH signature over the plan's digest.
type Signature struct {
	// Signer is the signer's principal as found in the allowed-signers
	// file, filled in at verification; informational only.
	Signer string `json:"signer,omitempty"`
	// PublicKey is the signer's key in authorized_keys form.
	PublicKey string `json:"public_key"`
	// Armored is the `-----BEGIN SSH SIGNATURE-----` block.
	Armored string    `json:"signature"`
	Created time.Time `json:"created"`
}

// Digest returns the hex SHA-256 of the plan's canonical bytes.
func (p *Plan) Digest() string {
	sum := sha256.Sum256(p.CanonicalBytes())
	return hex.EncodeToString(sum[:])
}

// CanonicalBytes is the JSON encoding of the plan without its signatures.
// encoding/json writes struct fields in declaration order and map keys
// sorted, and Value holds already-canonical JSON, so the bytes are stable.
func (p *Plan) CanonicalBytes() []byte {
	c := *p
	c.Signatures = nil
	b, err := json.Marshal(&c)
	if err != nil {
		// Every field is plain data; failing to encode is a programming error.
		panic(fmt.Sprintf("plan: encode: %v", err))
	}
	return b
}

// HasIrreversible reports whether any planned change cannot be undone.
func (p *Plan) HasIrreversible() bool {
	for _, s := range p.Steps {
		for _, in := range s.Instances {
			if in.Irreversible {
				return true
			}
		}
	}
	return false
}

// RequiredApprovals is the number of distinct reviewers this plan needs.
func (p *Plan) RequiredApprovals() int {
	n := p.Approvals.Required
	if p.HasIrreversible() && p.Approvals.IrreversibleRequired > n {
		n = p.Approvals.IrreversibleRequired
	}
	return n
}

// Changes counts instances by action. An instance of an awaited step that
// is not yet so counts as "await": rebind waits for it and writes nothing.
func (p *Plan) Changes() map[string]int {
	m := map[string]int{}
	for _, s := range p.Steps {
		for _, in := range s.Instances {
			if s.Await != "" && in.Action != "no-op" && in.Action != ActionDeferred {
				m["await"]++
				continue
			}
			m[in.Action]++
		}
	}
	return m
}

// Write saves the plan as indented JSON, 0600 (it may hold PII).
func (p *Plan) Write(path string) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return fmt.Errorf("plan: encode: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("plan: write %s: %w", path, err)
	}
	return nil
}

// Read loads a plan file. Indentation does not matter: the digest is over
// the canonical re-encoding.
func Read(path string) (*Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plan: read %s: %w", path, err)
	}
	return Decode(b, path)
}

// Decode parses plan bytes; name is used in errors.
func Decode(b []byte, name string) (*Plan, error) {
	var p Plan
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, name, err)
	}
	if p.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("%w: %s: format version %d, this rebind reads %d", ErrFormat, name, p.FormatVersion, FormatVersion)
	}
	return &p, nil
}

// SourcesDigest is the hex SHA-256 over the sources: each file name and its
// bytes, in name order, length-prefixed so that no two source sets collide.
func SourcesDigest(sources map[string][]byte) string {
	names := make([]string, 0, len(sources))
	for n := range sources {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%d:%s\n%d:", len(n), n, len(sources[n]))
		h.Write(sources[n])
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}
