// Package plan holds rebind's change plan: what a runbook will do to the
// directories, as observed at a point in time. A plan is the artefact people
// review: it carries the runbook sources, the non-secret inputs, the targets
// without credentials, every observed object with a fingerprint (stored
// once; an instance of a fan-out that changes nothing by its fingerprint
// alone, see Unchanged), every change (before -> after), the approval
// policy, and when it was made and expires.
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
	"maps"
	"os"
	"slices"
	"time"

	"github.com/rebind-dev/rebind/engine/addrs"
	"github.com/rebind-dev/rebind/steps"
)

// FormatVersion is the plan file format this build writes.
//
// Version 2 made large fan-outs small: an instance of a fan-out that
// changes nothing is one row of Step.Unchanged (its key, object and a
// fingerprint of its observed object and arguments), and observed objects
// are stored once, in Plan.Objects, and named by their digest.
//
// Version 1 plans (every instance whole, observed objects inline) are
// still read: a run journaled by an earlier rebind keeps its plan, and
// resume, rollback and approve-step read it. Apply refuses them
// (CheckApplyVersion): a reviewed plan is planned again at apply, in this
// build's format, and the two would not compare.
const FormatVersion = 2

// formatVersion1 is the first plan file format; see FormatVersion.
const formatVersion1 = 1

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
	// Objects are the observed objects of the instances that record one
	// (Instance.ObservedRef), each stored once, by ObjectRef of its value.
	// Format version 2 and later.
	Objects map[string]Value `json:"objects,omitempty"`
	// Cost is what apply will spend of each service and how long it takes
	// under the targets' budgets (see Cost); nil in plans made before it.
	Cost *Cost `json:"cost,omitempty"`

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
	// Unchanged are the instances of a fan-out that change nothing, by
	// key, object and fingerprint, in key order; Instances holds the
	// others. Format version 2 and later. All merges the two.
	Unchanged []Unchanged `json:"unchanged,omitempty"`
}

// Unchanged is an instance of a fan-out that changes nothing ("no-op"),
// recorded without its observed object or its values: its address is the
// step's address with the key, and Fingerprint covers what apply checks
// again, the object observed and the instance's arguments. In the file it
// is a row of three strings: ["KEY", "OBJECT", "FINGERPRINT"].
type Unchanged struct {
	Key         string
	Object      string
	Fingerprint string
}

// MarshalJSON writes the row.
func (u Unchanged) MarshalJSON() ([]byte, error) {
	return json.Marshal([3]string{u.Key, u.Object, u.Fingerprint})
}

// UnmarshalJSON reads a row of exactly three strings.
func (u *Unchanged) UnmarshalJSON(b []byte) error {
	var row []string
	if err := json.Unmarshal(b, &row); err != nil || len(row) != 3 {
		return fmt.Errorf("an unchanged instance is a row of three strings [key, object, fingerprint], not %s", clipJSON(b))
	}
	if row[2] == "" {
		return fmt.Errorf("the unchanged instance %q has no fingerprint", row[0])
	}
	u.Key, u.Object, u.Fingerprint = row[0], row[1], row[2]
	return nil
}

func clipJSON(b []byte) string {
	const limit = 80
	if len(b) > limit {
		return string(bytes.ToValidUTF8(b[:limit], nil)) + "..."
	}
	return string(b)
}

// UnchangedAddress is the address of a fan-out instance: the step's
// address and the key, as the engine names it.
func UnchangedAddress(step, key string) string {
	return addrs.Keyed(step, key)
}

// Instance returns the unchanged instance u of step s as a whole
// Instance (action no-op, nothing observed or shown).
func (s *Step) instance(u Unchanged) Instance {
	return Instance{Address: UnchangedAddress(s.Address, u.Key), Key: u.Key, Object: u.Object,
		Fingerprint: u.Fingerprint, Action: ActionNoOp}
}

// All yields every instance of the step in key order: Instances and
// Unchanged merged (both are in key order), an unchanged one as an
// Instance with action no-op. unchanged tells which is which.
func (s *Step) All(yield func(in Instance, unchanged bool) bool) {
	j := 0
	for _, in := range s.Instances {
		for j < len(s.Unchanged) && s.Unchanged[j].Key < in.Key {
			if !yield(s.instance(s.Unchanged[j]), true) {
				return
			}
			j++
		}
		if !yield(in, false) {
			return
		}
	}
	for ; j < len(s.Unchanged); j++ {
		if !yield(s.instance(s.Unchanged[j]), true) {
			return
		}
	}
}

// Len is the number of the step's instances.
func (s *Step) Len() int { return len(s.Instances) + len(s.Unchanged) }

// Instance is one step instance: the step itself, or one key of a fan-out.
type Instance struct {
	Address string `json:"address"`
	Key     string `json:"key,omitempty"`
	// Object names what was observed ("entra:user:alice@contoso.com").
	Object string `json:"object,omitempty"`
	// Fingerprint is the SHA-256 of the observation's canonical JSON; apply
	// refuses when it changed (drift).
	Fingerprint string `json:"fingerprint,omitempty"`
	// ObservedRef names the observed object as shown (secrets scrubbed)
	// in Plan.Objects (format version 2).
	ObservedRef string `json:"observed_ref,omitempty"`
	// Observed is the observed object inline: format version 1 only.
	// Plan.ObservedValue reads either.
	Observed Value `json:"observed,omitempty"`
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

// ActionNoOp is the action of an instance that changes nothing.
const ActionNoOp = "no-op"

// ObjectRef is the name Plan.Objects gives an observed object: "sha256:"
// and the hex SHA-256 of its canonical JSON.
func ObjectRef(v Value) string {
	sum := sha256.Sum256(v)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// AddObserved stores v in p.Objects, once however many instances observed
// it, and returns its ref for Instance.ObservedRef; "" for no value.
func (p *Plan) AddObserved(v Value) string {
	if v.IsZero() {
		return ""
	}
	ref := ObjectRef(v)
	if p.Objects == nil {
		p.Objects = map[string]Value{}
	}
	if _, ok := p.Objects[ref]; !ok {
		p.Objects[ref] = v
	}
	return ref
}

// MaxStoredObject is the largest observed object a plan stores, in bytes of
// its JSON. A larger one (a data block that lists every user of a tenant:
// 100,000 AD users are about 55 MB) is recorded by its fingerprint alone,
// with a note saying so: apply still compares the fingerprint, but a drift
// report cannot name the attributes that changed.
const MaxStoredObject = 1 << 20

// StoreObservedOnce moves every observed object held inline (as the
// planner records it) into p.Objects, stored once, and names it with
// ObservedRef: the layout of format version 2. An object larger than
// MaxStoredObject is left out (see there).
func (p *Plan) StoreObservedOnce() {
	for i := range p.Steps {
		for j := range p.Steps[i].Instances {
			in := &p.Steps[i].Instances[j]
			switch {
			case in.Observed.IsZero():
			case len(in.Observed) > MaxStoredObject:
				in.Notes = append(in.Notes, TooLargeNote(len(in.Observed)))
				in.Observed = nil
			default:
				in.ObservedRef = p.AddObserved(in.Observed)
				in.Observed = nil
			}
		}
	}
}

// ObservedValue is what in observed, as shown: from p.Objects, or inline
// in a version 1 plan; empty when the plan does not record it (an
// unchanged instance records only its fingerprint).
func (p *Plan) ObservedValue(in Instance) Value {
	if in.ObservedRef != "" {
		return p.Objects[in.ObservedRef]
	}
	return in.Observed
}

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
			if s.Await != "" && in.Action != ActionNoOp && in.Action != ActionDeferred {
				m["await"]++
				continue
			}
			m[in.Action]++
		}
		if len(s.Unchanged) > 0 {
			m[ActionNoOp] += len(s.Unchanged)
		}
	}
	return m
}

// Write saves the plan as indented JSON, 0600 (it may hold PII). An array
// of strings, numbers and booleans (a row of an unchanged instance, a
// list of permissions) stays on one line, so that a fan-out of 100,000
// unchanged instances takes 100,000 lines.
func (p *Plan) Write(path string) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("plan: encode: %w", err)
	}
	if err := os.WriteFile(path, indentJSON(b), 0o600); err != nil {
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

// Decode parses plan bytes of format version 1 or 2; name is used in
// errors.
func Decode(b []byte, name string) (*Plan, error) {
	var head struct {
		FormatVersion *int `json:"format_version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrFormat, name, err)
	}
	switch {
	case head.FormatVersion == nil:
		return nil, fmt.Errorf("%w: %s: no format_version", ErrFormat, name)
	case *head.FormatVersion != FormatVersion && *head.FormatVersion != formatVersion1:
		return nil, fmt.Errorf("%w: %s: format version %d, this rebind reads %d and %d", ErrFormat, name, *head.FormatVersion, formatVersion1, FormatVersion)
	}
	var p Plan
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %s (format version %d): %v", ErrFormat, name, *head.FormatVersion, err)
	}
	if err := p.checkLayout(); err != nil {
		return nil, fmt.Errorf("%w: %s (format version %d): %v", ErrFormat, name, p.FormatVersion, err)
	}
	return &p, nil
}

// checkLayout checks what the format itself requires: a version 1 plan
// has none of version 2's fields; in version 2 every observed object is
// stored once under its own digest and named by an instance, and the
// unchanged instances of a step are in key order, each key once.
func (p *Plan) checkLayout() error {
	if p.FormatVersion == formatVersion1 {
		if len(p.Objects) > 0 {
			return errors.New("objects: not a field of format version 1")
		}
		for i, s := range p.Steps {
			if len(s.Unchanged) > 0 {
				return fmt.Errorf("steps[%d] (%s): unchanged: not a field of format version 1", i, s.Address)
			}
			for _, in := range s.Instances {
				if in.ObservedRef != "" {
					return fmt.Errorf("steps[%d] (%s): instance %s: observed_ref: not a field of format version 1", i, s.Address, in.Address)
				}
			}
		}
		return nil
	}
	for ref, v := range p.Objects {
		if got := ObjectRef(v); got != ref {
			return fmt.Errorf("objects[%q]: the object's digest is %s", ref, got)
		}
	}
	used := make(map[string]bool, len(p.Objects))
	for i, s := range p.Steps {
		for _, in := range s.Instances {
			if !in.Observed.IsZero() {
				return fmt.Errorf("steps[%d] (%s): instance %s: observed: format version %d stores observed objects in objects and names them with observed_ref", i, s.Address, in.Address, FormatVersion)
			}
			if in.ObservedRef == "" {
				continue
			}
			if _, ok := p.Objects[in.ObservedRef]; !ok {
				return fmt.Errorf("steps[%d] (%s): instance %s: observed_ref %s names no object in objects", i, s.Address, in.Address, in.ObservedRef)
			}
			used[in.ObservedRef] = true
		}
		for j, u := range s.Unchanged {
			if j > 0 && s.Unchanged[j-1].Key >= u.Key {
				return fmt.Errorf("steps[%d] (%s): unchanged[%d]: key %q is not after %q: rows are in key order, each key once", i, s.Address, j, u.Key, s.Unchanged[j-1].Key)
			}
		}
	}
	for ref := range p.Objects {
		if !used[ref] {
			return fmt.Errorf("objects[%q]: no instance names it", ref)
		}
	}
	return nil
}

// CheckApplyVersion refuses to apply a plan of another format version
// than this build writes: apply plans again and compares every field, and
// a version 1 plan records what a version 2 plan does not (and the other
// way round). The error names both versions and what to do.
func CheckApplyVersion(p *Plan) error {
	if p.FormatVersion == FormatVersion {
		return nil
	}
	return fmt.Errorf("%w: the plan is in format version %d, written by an earlier rebind; this rebind applies plans of format version %d only (it still shows them, and resumes and rolls back runs started from them): make a new plan with rebind plan and have it reviewed",
		ErrFormat, p.FormatVersion, FormatVersion)
}

// indentJSON indents compact JSON by two spaces per level, as
// json.Indent does, except that an array holding no object and no array
// is written on one line.
func indentJSON(src []byte) []byte {
	out := make([]byte, 0, len(src)+len(src)/4)
	depth := 0
	newline := func() {
		out = append(out, '\n')
		for range depth {
			out = append(out, ' ', ' ')
		}
	}
	// flat reports whether the array opening at src[i] holds only
	// scalars, and where it ends.
	flat := func(i int) (int, bool) {
		inStr := false
		for j := i + 1; j < len(src); j++ {
			c := src[j]
			switch {
			case inStr:
				if c == '\\' {
					j++
				} else if c == '"' {
					inStr = false
				}
			case c == '"':
				inStr = true
			case c == '{' || c == '[':
				return 0, false
			case c == ']':
				return j, true
			}
		}
		return 0, false
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '"':
			j := i + 1
			for ; j < len(src); j++ {
				if src[j] == '\\' {
					j++
				} else if src[j] == '"' {
					break
				}
			}
			out = append(out, src[i:j+1]...)
			i = j
		case '[':
			if end, ok := flat(i); ok {
				// One line: ", " between elements, as a person writes it.
				inStr := false
				for k := i; k <= end; k++ {
					ch := src[k]
					out = append(out, ch)
					switch {
					case inStr && ch == '\\':
						k++
						out = append(out, src[k])
					case ch == '"':
						inStr = !inStr
					case !inStr && ch == ',':
						out = append(out, ' ')
					}
				}
				i = end
				continue
			}
			fallthrough
		case '{':
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				out = append(out, c, src[i+1])
				i++
				continue
			}
			out = append(out, c)
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			out = append(out, c)
		case ',':
			out = append(out, c)
			newline()
		case ':':
			out = append(out, ':', ' ')
		default:
			out = append(out, c)
		}
	}
	return append(out, '\n')
}

// SourcesDigest is the hex SHA-256 over the sources: each file name and its
// bytes, in name order, length-prefixed so that no two source sets collide.
func SourcesDigest(sources map[string][]byte) string {
	names := slices.Sorted(maps.Keys(sources))
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%d:%s\n%d:", len(n), n, len(sources[n]))
		h.Write(sources[n])
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}
