package lab

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/rebind-dev/rebind/anchor"
)

// guidText writes a GUID in JSON as its canonical string; a nil *guidText
// is an unset GUID. The model keeps anchor.GUID, which has no JSON form of
// its own, so the JSON forms below shadow those fields with guidText.
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

// The JSON forms embed the model type (its other fields are promoted) and
// shadow its GUID fields: encoding/json prefers the shallower field of a
// name. They have no methods of their own, so one decoder with
// DisallowUnknownFields checks a whole state file in a single pass.

type (
	adUserPlain    ADUser
	exchangePlain  ExchangeAttributes
	cloudUserPlain CloudUser
	recipientPlain Recipient
)

type adUserJSON struct {
	ObjectGUID      *guidText `json:"objectGUID,omitempty"`
	ConsistencyGUID *guidText `json:"mS-DS-ConsistencyGuid,omitempty"`
	MailboxGUID     *guidText `json:"msExchMailboxGuid,omitempty"`
	ArchiveGUID     *guidText `json:"msExchArchiveGUID,omitempty"`
	adUserPlain
}

func toADUserJSON(u *ADUser) adUserJSON {
	return adUserJSON{gt(u.ObjectGUID), gt(u.ConsistencyGUID), gt(u.MailboxGUID), gt(u.ArchiveGUID), adUserPlain(*u)}
}

func (j *adUserJSON) model() ADUser {
	u := ADUser(j.adUserPlain)
	u.ObjectGUID, u.ConsistencyGUID, u.MailboxGUID, u.ArchiveGUID = ug(j.ObjectGUID), ug(j.ConsistencyGUID), ug(j.MailboxGUID), ug(j.ArchiveGUID)
	return u
}

type exchangeJSON struct {
	MailboxGUID *guidText `json:"msExchMailboxGuid,omitempty"`
	ArchiveGUID *guidText `json:"msExchArchiveGUID,omitempty"`
	exchangePlain
}

type cloudUserJSON struct {
	Exchange *exchangeJSON `json:"onPremisesExchange,omitempty"`
	cloudUserPlain
}

func toCloudUserJSON(u *CloudUser) cloudUserJSON {
	j := cloudUserJSON{cloudUserPlain: cloudUserPlain(*u)}
	if x := u.Exchange; x != nil {
		j.Exchange = &exchangeJSON{gt(x.MailboxGUID), gt(x.ArchiveGUID), exchangePlain(*x)}
	}
	return j
}

func (j *cloudUserJSON) model() CloudUser {
	u := CloudUser(j.cloudUserPlain)
	u.Exchange = nil
	if x := j.Exchange; x != nil {
		a := ExchangeAttributes(x.exchangePlain)
		a.MailboxGUID, a.ArchiveGUID = ug(x.MailboxGUID), ug(x.ArchiveGUID)
		u.Exchange = &a
	}
	return u
}

type recipientJSON struct {
	ExchangeGUID *guidText `json:"ExchangeGuid,omitempty"`
	ArchiveGUID  *guidText `json:"ArchiveGuid,omitempty"`
	recipientPlain
}

func toRecipientJSON(r *Recipient) recipientJSON {
	return recipientJSON{gt(r.ExchangeGUID), gt(r.ArchiveGUID), recipientPlain(*r)}
}

func (j *recipientJSON) model() Recipient {
	r := Recipient(j.recipientPlain)
	r.ExchangeGUID, r.ArchiveGUID = ug(j.ExchangeGUID), ug(j.ArchiveGUID)
	return r
}

// readState decodes a state, refusing unknown fields at any depth. It
// streams the object arrays one element at a time, so a 100,000-user state
// is never held as text and as objects at once.
func readState(r io.Reader) (State, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<16))
	dec.DisallowUnknownFields()
	var st State
	// The fields decoded whole; the object arrays are streamed below.
	fields := map[string]any{"description": &st.Description, "now": &st.Now, "seed": &st.Seed, "seq": &st.Seq,
		"config": &st.Config, "organization": &st.Organization, "adUSN": &st.ADUSN, "sync": &st.Sync,
		"generate": &st.Generate, "apps": &st.Apps}
	if err := expectDelim(dec, '{'); err != nil {
		return st, err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return st, err
		}
		key, _ := tok.(string)
		switch p, whole := fields[key]; {
		case whole:
			err = dec.Decode(p)
		case key == "ad":
			err = decodeEach(dec, &st.AD, (*adUserJSON).model)
		case key == "users":
			err = decodeEach(dec, &st.Users, (*cloudUserJSON).model)
		case key == "recipients":
			err = decodeEach(dec, &st.Recipients, (*recipientJSON).model)
		default:
			err = fmt.Errorf("unknown field %q", key)
		}
		if err != nil {
			return st, fmt.Errorf("%s: %w", key, err)
		}
	}
	return st, expectDelim(dec, '}')
}

// expectDelim reads the next token and checks it is d.
func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != d {
		return fmt.Errorf("want %q, got %v", d, tok)
	}
	return nil
}

// decodeArray reads a JSON array (or null), calling elem for each element.
func decodeArray(dec *json.Decoder, elem func() error) error {
	tok, err := dec.Token()
	if err != nil || tok == nil {
		return err
	}
	if tok != json.Delim('[') {
		return fmt.Errorf("want an array, got %v", tok)
	}
	for dec.More() {
		if err := elem(); err != nil {
			return err
		}
	}
	return expectDelim(dec, ']')
}

// decodeEach reads a JSON array (or null) of J, appending the model of each
// element to dst.
func decodeEach[J, M any](dec *json.Decoder, dst *[]M, model func(*J) M) error {
	return decodeArray(dec, func() error {
		var j J
		err := dec.Decode(&j)
		*dst = append(*dst, model(&j))
		return err
	})
}

// bigArray is the length from which writeState puts each object of an
// array on one line instead of indenting it: a 100,000-user dump stays
// diffable line by line and is written without an indentation pass.
const bigArray = 1000

// writeState writes st as JSON: small arrays indented, big ones one object
// per line.
func writeState(w io.Writer, st State) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	first := true
	field := func(name string, v any) error {
		if !first {
			bw.WriteString(",\n")
		}
		first = false
		b, err := json.MarshalIndent(v, "  ", "  ")
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(bw, "  %q: ", name)
		_, err = bw.Write(b)
		return err
	}
	array := func(name string, n int, elem func(i int) any) error {
		if n < bigArray {
			l := make([]any, n)
			for i := range l {
				l[i] = elem(i)
			}
			return field(name, l)
		}
		if !first {
			bw.WriteString(",\n")
		}
		first = false
		fmt.Fprintf(bw, "  %q: [\n", name)
		for i := 0; i < n; i++ {
			b, err := json.Marshal(elem(i))
			if err != nil {
				return fmt.Errorf("%s[%d]: %w", name, i, err)
			}
			bw.WriteString("    ")
			bw.Write(b)
			if i < n-1 {
				bw.WriteByte(',')
			}
			bw.WriteByte('\n')
		}
		_, err := bw.WriteString("  ]")
		return err
	}
	// optional writes a field only when it is set (unset is false).
	optional := func(name string, set bool, v any) error {
		if !set {
			return nil
		}
		return field(name, v)
	}
	bw.WriteString("{\n")
	steps := []func() error{
		func() error { return optional("description", st.Description != "", st.Description) },
		func() error { return field("now", st.Now) },
		func() error { return field("seed", st.Seed) },
		func() error { return optional("seq", st.Seq != 0, st.Seq) },
		func() error { return field("config", st.Config) },
		func() error { return field("organization", st.Organization) },
		func() error { return optional("adUSN", st.ADUSN != 0, st.ADUSN) },
		func() error {
			return array("ad", len(st.AD), func(i int) any { return toADUserJSON(&st.AD[i]) })
		},
		func() error {
			return array("users", len(st.Users), func(i int) any { return toCloudUserJSON(&st.Users[i]) })
		},
		func() error {
			return array("recipients", len(st.Recipients), func(i int) any { return toRecipientJSON(&st.Recipients[i]) })
		},
		func() error { return field("sync", st.Sync) },
		func() error { return optional("generate", len(st.Generate) != 0, st.Generate) },
		func() error { return optional("apps", len(st.Apps) != 0, st.Apps) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	bw.WriteString("\n}\n")
	return bw.Flush()
}

// MarshalJSON writes the user as a state file holds it, GUIDs as strings.
func (u ADUser) MarshalJSON() ([]byte, error) { return json.Marshal(toADUserJSON(&u)) }

// MarshalJSON writes the user as a state file holds it, GUIDs as strings.
func (u CloudUser) MarshalJSON() ([]byte, error) { return json.Marshal(toCloudUserJSON(&u)) }

// MarshalJSON writes the recipient as a state file holds it, GUIDs as
// strings.
func (r Recipient) MarshalJSON() ([]byte, error) { return json.Marshal(toRecipientJSON(&r)) }

// strict decodes b into v refusing unknown fields.
func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (u *ADUser) UnmarshalJSON(b []byte) error {
	var j adUserJSON
	if err := strict(b, &j); err != nil {
		return err
	}
	*u = j.model()
	return nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (u *CloudUser) UnmarshalJSON(b []byte) error {
	var j cloudUserJSON
	if err := strict(b, &j); err != nil {
		return err
	}
	*u = j.model()
	return nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Recipient) UnmarshalJSON(b []byte) error {
	var j recipientJSON
	if err := strict(b, &j); err != nil {
		return err
	}
	*r = j.model()
	return nil
}
