package lab

import (
	"bytes"
	"encoding/json"

	"github.com/rebind-dev/rebind/anchor"
)

// guidText writes a GUID in JSON as its canonical string; a nil *guidText
// is an unset GUID. The model keeps anchor.GUID, which has no JSON form of
// its own, so each type holding GUIDs shadows those fields with guidText.
type guidText anchor.GUID

func (g guidText) MarshalText() ([]byte, error) { return []byte(anchor.GUID(g).String()), nil }

func (g *guidText) UnmarshalText(b []byte) error {
	v, err := anchor.ParseGUID(string(b))
	if err != nil {
		return err
	}
	*g = guidText(v)
	return nil
}

// gt returns g for JSON, nil when unset.
func gt(g anchor.GUID) *guidText {
	if g.IsZero() {
		return nil
	}
	v := guidText(g)
	return &v
}

// ug returns the GUID p holds, zero when nil.
func ug(p *guidText) anchor.GUID {
	if p == nil {
		return anchor.GUID{}
	}
	return anchor.GUID(*p)
}

// strict decodes b into v refusing unknown fields, so that a misspelt
// attribute in a hand-written scenario is an error instead of a silent
// omission.
func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

type adUserPlain ADUser

type adUserJSON struct {
	ObjectGUID      *guidText `json:"objectGUID,omitempty"`
	ConsistencyGUID *guidText `json:"mS-DS-ConsistencyGuid,omitempty"`
	MailboxGUID     *guidText `json:"msExchMailboxGuid,omitempty"`
	ArchiveGUID     *guidText `json:"msExchArchiveGUID,omitempty"`
	*adUserPlain
}

// MarshalJSON writes the user with its GUIDs as strings.
func (u ADUser) MarshalJSON() ([]byte, error) {
	p := adUserPlain(u)
	return json.Marshal(adUserJSON{gt(u.ObjectGUID), gt(u.ConsistencyGUID), gt(u.MailboxGUID), gt(u.ArchiveGUID), &p})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (u *ADUser) UnmarshalJSON(b []byte) error {
	j := adUserJSON{adUserPlain: (*adUserPlain)(u)}
	if err := strict(b, &j); err != nil {
		return err
	}
	u.ObjectGUID, u.ConsistencyGUID, u.MailboxGUID, u.ArchiveGUID = ug(j.ObjectGUID), ug(j.ConsistencyGUID), ug(j.MailboxGUID), ug(j.ArchiveGUID)
	return nil
}

type exchangePlain ExchangeAttributes

type exchangeJSON struct {
	MailboxGUID *guidText `json:"msExchMailboxGuid,omitempty"`
	ArchiveGUID *guidText `json:"msExchArchiveGUID,omitempty"`
	*exchangePlain
}

// MarshalJSON writes the attributes with their GUIDs as strings.
func (x ExchangeAttributes) MarshalJSON() ([]byte, error) {
	p := exchangePlain(x)
	return json.Marshal(exchangeJSON{gt(x.MailboxGUID), gt(x.ArchiveGUID), &p})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (x *ExchangeAttributes) UnmarshalJSON(b []byte) error {
	j := exchangeJSON{exchangePlain: (*exchangePlain)(x)}
	if err := strict(b, &j); err != nil {
		return err
	}
	x.MailboxGUID, x.ArchiveGUID = ug(j.MailboxGUID), ug(j.ArchiveGUID)
	return nil
}

type recipientPlain Recipient

type recipientJSON struct {
	ExchangeGUID *guidText `json:"ExchangeGuid,omitempty"`
	ArchiveGUID  *guidText `json:"ArchiveGuid,omitempty"`
	*recipientPlain
}

// MarshalJSON writes the recipient with its GUIDs as strings.
func (r Recipient) MarshalJSON() ([]byte, error) {
	p := recipientPlain(r)
	return json.Marshal(recipientJSON{gt(r.ExchangeGUID), gt(r.ArchiveGUID), &p})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Recipient) UnmarshalJSON(b []byte) error {
	j := recipientJSON{recipientPlain: (*recipientPlain)(r)}
	if err := strict(b, &j); err != nil {
		return err
	}
	r.ExchangeGUID, r.ArchiveGUID = ug(j.ExchangeGUID), ug(j.ArchiveGUID)
	return nil
}
