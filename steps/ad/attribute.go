package ad

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/steps"
)

func init() {
	steps.Register(attributeStep{})
}

// attributeStep is the ad_attribute type: one attribute of one object set
// to a value, a list of values or a GUID, or cleared.
type attributeStep struct{}

func (attributeStep) Info() steps.Info {
	return steps.Info{
		Name: "ad_attribute",
		Doc: "Sets one attribute of an Active Directory object to `value` (a string or a list of strings) or to `guid` " +
			"(a GUID string written as 16 bytes in AD's byte order, for msExchMailboxGuid, msExchArchiveGUID or " +
			"mS-DS-ConsistencyGuid), or clears it when both are null. Rollback writes the old value back.",
		Kind:   steps.KindEnsure,
		Target: "ad",
		Schema: selectorSchema(steps.Schema{
			"attribute": {Type: cty.String, Required: true, Doc: "The LDAP display name of the attribute, e.g. msExchArchiveGUID."},
			"value":     {Type: cty.DynamicPseudoType, Nullable: true, PII: true, Doc: "The value: a string or a list of strings; null clears the attribute."},
			"guid":      {Type: cty.String, Nullable: true, Doc: "A GUID string to store as 16 bytes in AD's byte order; null clears the attribute."},
		}),
		Reversibility: steps.Reversible,
		Permissions:   []string{"AD: write the attribute on the object (Write Property)"},
	}
}

// attributePrivate is what Apply and Revert need, kept in the journal: the
// exact bytes to write either way, which the display values cannot carry
// (a GUID is shown as a string but stored as 16 bytes).
type attributePrivate struct {
	DN        string   `json:"dn"`
	GUID      string   `json:"object_guid"`
	Attribute string   `json:"attribute"`
	Before    [][]byte `json:"before"`
	After     [][]byte `json:"after"`
}

func (attributeStep) Observe(ctx context.Context, call steps.Call) (steps.Observation, error) {
	d, sel, err := selected(call)
	if err != nil {
		return steps.Observation{}, err
	}
	attr, _ := steps.String(call.Config, "attribute")
	e, err := findObject(d, sel, []string{attrObjectGUID, attr})
	if err != nil {
		return steps.Observation{}, err
	}
	return attributeObservation(call, e)
}

// attributeObservation is what Observe observes of the call's attribute on
// the entry e.
func attributeObservation(call steps.Call, e *ldap.Entry) (steps.Observation, error) {
	attr, _ := steps.String(call.Config, "attribute")
	g, ok, err := entryGUID(e, attrObjectGUID)
	if err != nil {
		return steps.Observation{}, err
	}
	if !ok {
		return steps.Observation{}, fmt.Errorf("ad: %s has no objectGUID", e.DN)
	}
	shown, err := displayValues(guidMode(call), e.GetEqualFoldRawAttributeValues(attr))
	if err != nil {
		return steps.Observation{}, err
	}
	return steps.Observation{
		Object: objectName(g),
		Value: cty.ObjectVal(map[string]cty.Value{
			"dn":          cty.StringVal(e.DN),
			"object_guid": cty.StringVal(g.String()),
			"attribute":   cty.StringVal(attr),
			"value":       shown,
		}),
	}, nil
}

// guidMode reports whether the attribute's values are shown as GUIDs: it is
// one AD stores GUIDs in, or the call writes it with guid.
func guidMode(call steps.Call) bool {
	attr, _ := steps.String(call.Config, "attribute")
	g := call.Config.GetAttr("guid")
	return isGUIDAttribute(attr) || !g.IsKnown() || !g.IsNull()
}

// desiredValues returns the bytes the call asks for; nil means "cleared".
func desiredValues(call steps.Call) ([][]byte, error) {
	value, hasValue := steps.Attr(call.Config, "value")
	guid, hasGUID := steps.String(call.Config, "guid")
	switch {
	case hasValue && hasGUID:
		return nil, steps.Permanent(fmt.Errorf("ad: %s: give value or guid, not both", call.Address))
	case hasGUID:
		g, err := anchor.ParseGUID(guid)
		if err != nil {
			return nil, steps.Permanent(fmt.Errorf("ad: %s: guid: %w", call.Address, err))
		}
		return [][]byte{g.Bytes()}, nil
	case !hasValue:
		return nil, nil
	}
	var list cty.Value
	if value.Type() == cty.Bool {
		// LDAP's Boolean syntax is the text TRUE or FALSE (RFC 4517).
		value = cty.StringVal(strings.ToUpper(fmt.Sprint(value.True())))
	}
	if value.Type().IsPrimitiveType() {
		// A number is written as its decimal text, as LDAP carries it.
		s, err := convert.Convert(value, cty.String)
		if err != nil {
			return nil, steps.Permanent(fmt.Errorf("ad: %s: value: %w", call.Address, err))
		}
		list = cty.ListVal([]cty.Value{s})
	} else {
		var err error
		if list, err = convert.Convert(value, cty.List(cty.String)); err != nil {
			return nil, steps.Permanent(fmt.Errorf("ad: %s: value must be a string or a list of strings: %w", call.Address, err))
		}
	}
	if list.IsNull() || !list.IsWhollyKnown() {
		return nil, fmt.Errorf("ad: %s: value is not known yet", call.Address)
	}
	var out [][]byte
	for it := list.ElementIterator(); it.Next(); {
		_, v := it.Element()
		if v.IsNull() {
			return nil, steps.Permanent(fmt.Errorf("ad: %s: value holds a null element", call.Address))
		}
		out = append(out, []byte(v.AsString()))
	}
	return out, nil
}

// sameValues compares two value sets byte for byte, ignoring order: AD does
// not keep the order of a multi-valued attribute.
func sameValues(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	sa, sb := sortedCopy(a), sortedCopy(b)
	for i := range sa {
		if !bytes.Equal(sa[i], sb[i]) {
			return false
		}
	}
	return true
}

func sortedCopy(v [][]byte) [][]byte {
	c := append([][]byte(nil), v...)
	sort.Slice(c, func(i, j int) bool { return bytes.Compare(c[i], c[j]) < 0 })
	return c
}

func (attributeStep) Diff(ctx context.Context, call steps.Call, obs steps.Observation) (steps.Change, error) {
	want, err := desiredValues(call)
	if err != nil {
		return steps.Change{}, err
	}
	attr, _ := steps.String(call.Config, "attribute")
	have, err := rawValues(guidMode(call), obs.Value.GetAttr("value"))
	if err != nil {
		return steps.Change{}, err
	}
	before, err := displayValues(guidMode(call), have)
	if err != nil {
		return steps.Change{}, err
	}
	after, err := displayValues(guidMode(call), want)
	if err != nil {
		return steps.Change{}, err
	}
	change := steps.Change{
		Action: steps.Update,
		Before: cty.ObjectVal(map[string]cty.Value{"value": before}),
		After:  cty.ObjectVal(map[string]cty.Value{"value": after}),
	}
	if sameValues(have, want) {
		change.Action = steps.NoOp
	}
	change.Private, err = json.Marshal(attributePrivate{
		DN:        obs.Value.GetAttr("dn").AsString(),
		GUID:      obs.Value.GetAttr("object_guid").AsString(),
		Attribute: attr,
		Before:    have,
		After:     want,
	})
	return change, err
}

func (attributeStep) Apply(ctx context.Context, call steps.Call, change steps.Change) (steps.Result, error) {
	return steps.Result{}, writeRecorded(call, change, func(p attributePrivate) [][]byte { return p.After })
}

// Revert writes the values the attribute had before Apply.
func (attributeStep) Revert(ctx context.Context, call steps.Call, change steps.Change) error {
	return writeRecorded(call, change, func(p attributePrivate) [][]byte { return p.Before })
}

// writeRecorded sets the attribute the recorded change names to the
// values pick chooses from it (After to apply, Before to revert); a NoOp
// change writes nothing.
func writeRecorded(call steps.Call, change steps.Change, pick func(attributePrivate) [][]byte) error {
	if change.Action == steps.NoOp {
		return nil
	}
	var p attributePrivate
	if err := json.Unmarshal(change.Private, &p); err != nil || p.DN == "" {
		return fmt.Errorf("ad: the recorded change carries no object (%v)", err)
	}
	d, err := directory(call)
	if err != nil {
		return err
	}
	return replaceValues(d, p.DN, p.Attribute, pick(p))
}

// replaceValues sets attr to exactly values; none clears it. Replace with
// no values succeeds whether or not the attribute is present, which keeps
// Apply and Revert safe to repeat.
func replaceValues(d Directory, dn, attr string, values [][]byte) error {
	req := ldap.NewModifyRequest(dn, nil)
	req.Replace(attr, byteStrings(values))
	return wrapErr(d.Modify(req), "modify", dn, attr)
}

// byteStrings carries raw bytes in go-ldap's string values unchanged.
func byteStrings(values [][]byte) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}
