package ad

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/zclconf/go-cty/cty"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/steps"
)

func init() {
	steps.Register(restoreStep{})
}

// restoreStep is the ad_user_restored type: a deleted user reanimated with
// its objectGUID, so that Entra Connect hard-matches it to its cloud user
// again (DOMAIN.md, "the better fix where possible").
type restoreStep struct{}

func (restoreStep) Info() steps.Info {
	return steps.Info{
		Name: "ad_user_restored",
		Doc: "Restores a deleted Active Directory user, keeping its objectGUID, to its last known parent or to `ou`. " +
			"Without the AD Recycle Bin the object comes back from a tombstone without its UPN, addresses and Exchange " +
			"attributes, disabled and without a password: set them again in later steps.",
		Kind:               steps.KindEnsure,
		Target:             "ad",
		Schema:             restoreSchema(),
		Reversibility:      steps.Compensable,
		IrreversibleReason: "Rollback deletes the restored user again; it becomes a new tombstone, not the original one.",
		Permissions: []string{
			"AD: Reanimate Tombstones (extended right on the domain)",
			"AD: Create Child on the target container and Write Property on the deleted object",
		},
	}
}

// restoreSchema names the deleted user by object_guid or sam_account_name
// only. Not by UPN: a tombstone has lost its UPN, and after a restore
// mistake a new live user holds it, so "no deleted user with this UPN, a
// live one has it" would wrongly read as "already restored".
func restoreSchema() steps.Schema {
	s := selectorSchema(steps.Schema{
		"ou":   {Type: cty.String, Doc: "The DN of the container to restore into (default the object's last known parent)."},
		"name": {Type: cty.String, PII: true, Doc: "The CN to restore with (default the name it had before deletion)."},
	})
	delete(s, "dn")
	delete(s, "upn")
	return s
}

// restorePrivate is what Apply and Revert need.
type restorePrivate struct {
	GUID      string `json:"object_guid"`
	DeletedDN string `json:"deleted_dn"`
	NewDN     string `json:"new_dn"`
}

func (restoreStep) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	d, sel, err := selected(call)
	if err != nil {
		return steps.Observation{}, err
	}
	// A deleted object wins over a live one named the same way: after a
	// restore mistake a new live user may well carry the old UPN, and it
	// is not the one to restore. Only a GUID says "this very object".
	e, err := findDeleted(d, sel)
	if err == nil {
		return restoreObservation(e, true)
	}
	if !notFound(err) {
		return steps.Observation{}, err
	}
	live, lerr := findUser(d, sel, []string{attrObjectGUID})
	if lerr != nil {
		if notFound(lerr) {
			return steps.Observation{}, fmt.Errorf("ad: %s: no deleted or live user with %s: %w", call.Address, sel, steps.ErrNotFound)
		}
		return steps.Observation{}, lerr
	}
	return restoreObservation(live, false)
}

// restoreObservation is what ad_user_restored observes of e: the deleted
// user, with its last known parent, or the live user it is again.
func restoreObservation(e *ldap.Entry, deleted bool) (steps.Observation, error) {
	g, _, err := entryGUID(e, attrObjectGUID)
	if err != nil {
		return steps.Observation{}, err
	}
	parent := cty.NullVal(cty.String)
	if deleted {
		parent = strOrNull(e, attrLastKnownParent)
	}
	return steps.Observation{Object: objectName(g), Value: cty.ObjectVal(map[string]cty.Value{
		"object_guid":       cty.StringVal(g.String()),
		"deleted":           cty.BoolVal(deleted),
		"dn":                cty.StringVal(e.DN),
		"last_known_parent": parent,
	})}, nil
}

func (restoreStep) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	v := obs.Value
	guid := v.GetAttr("object_guid")
	state := func(dn string, deleted bool) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"dn": cty.StringVal(dn), "deleted": cty.BoolVal(deleted), "object_guid": guid})
	}
	dn := v.GetAttr("dn").AsString()
	if v.GetAttr("deleted").False() {
		return steps.Change{Action: steps.NoOp, Before: state(dn, false), After: state(dn, false)}, nil
	}
	parent, ok := steps.String(call.Config, "ou")
	if !ok {
		lkp := v.GetAttr("last_known_parent")
		if lkp.IsNull() {
			return steps.Change{}, steps.Permanent(fmt.Errorf("ad: %s: %s has no last known parent: say ou = \"...\"", call.Address, dn))
		}
		parent = lkp.AsString()
	}
	name, ok := steps.String(call.Config, "name")
	if !ok {
		parsed, err := ldap.ParseDN(dn)
		if err != nil || len(parsed.RDNs) == 0 || len(parsed.RDNs[0].Attributes) == 0 {
			return steps.Change{}, fmt.Errorf("ad: %s: cannot read the name in %q: %v", call.Address, dn, err)
		}
		name = trimDeletedSuffix(parsed.RDNs[0].Attributes[0].Value)
	}
	newDN := "CN=" + ldap.EscapeDN(name) + "," + parent
	p, err := json.Marshal(restorePrivate{GUID: v.GetAttr("object_guid").AsString(), DeletedDN: dn, NewDN: newDN})
	if err != nil {
		return steps.Change{}, err
	}
	return steps.Change{Action: steps.Create, Before: state(dn, true), After: state(newDN, false), Private: p}, nil
}

func (restoreStep) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	if change.Action == steps.NoOp {
		return steps.Result{Value: cty.ObjectVal(map[string]cty.Value{
			"dn": change.After.GetAttr("dn"), "object_guid": change.After.GetAttr("object_guid"),
		})}, nil
	}
	d, p, g, err := restoreRecorded(call, change)
	if err != nil {
		return steps.Result{}, err
	}
	// Repeating after a crash: the object may already be live.
	if live, err := findUser(d, byGUID(g), []string{attrObjectGUID}); err == nil {
		return steps.Result{Value: restoredResult(live.DN, g)}, nil
	} else if !notFound(err) {
		return steps.Result{}, err
	}
	req := ldap.NewModifyRequest(p.DeletedDN, []ldap.Control{ldap.NewControlMicrosoftShowDeleted()})
	req.Delete(attrIsDeleted, nil)
	req.Replace("distinguishedName", []string{p.NewDN})
	if err := d.Modify(req); err != nil {
		return steps.Result{}, wrapErr(err, "restore", p.DeletedDN+" to "+p.NewDN, "")
	}
	return steps.Result{Value: restoredResult(p.NewDN, g)}, nil
}

// restoredResult is Apply's value, {dn, object_guid}, whether or not it
// had anything to do.
func restoredResult(dn string, g anchor.GUID) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"dn": cty.StringVal(dn), "object_guid": cty.StringVal(g.String())})
}

// Revert deletes the restored user again. It is a compensation: AD makes a
// new tombstone, and what the tombstone had already lost stays lost.
func (restoreStep) Revert(ctx context.Context, call steps.Call, change steps.Change) error {
	if change.Action == steps.NoOp {
		return nil
	}
	d, _, g, err := restoreRecorded(call, change)
	if err != nil {
		return err
	}
	live, err := findUser(d, byGUID(g), []string{attrObjectGUID})
	if notFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return wrapErr(d.Del(ldap.NewDelRequest(live.DN, nil)), "delete", live.DN, "")
}

// restoreRecorded is what Apply and Revert start from: the call's
// directory, and the restore the journal recorded with the object's GUID.
func restoreRecorded(call steps.Call, change steps.Change) (Directory, restorePrivate, anchor.GUID, error) {
	var p restorePrivate
	if err := json.Unmarshal(change.Private, &p); err != nil || p.GUID == "" {
		return nil, p, anchor.GUID{}, fmt.Errorf("ad: %s: the recorded change carries no object (%v)", call.Address, err)
	}
	d, err := directory(call)
	if err != nil {
		return nil, p, anchor.GUID{}, err
	}
	g, err := anchor.ParseGUID(p.GUID)
	return d, p, g, err
}

// byGUID is the selector of the object with GUID g.
func byGUID(g anchor.GUID) selector {
	return selector{kind: "object_guid", value: g.String(), guid: g}
}

// trimDeletedSuffix removes the "\nDEL:<guid>" AD appends to the name of a
// deleted object.
func trimDeletedSuffix(name string) string {
	if i := strings.Index(name, "\nDEL:"); i >= 0 {
		return name[:i]
	}
	return name
}
