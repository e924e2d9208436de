package ldapraw

import (
	"bytes"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// Lengths take the short form below 128 and the long form from there,
// with as many octets as the value needs (X.690 8.1.3).
func TestLength(t *testing.T) {
	for _, c := range []struct {
		n    int
		want []byte
	}{
		{0, []byte{0}}, {127, []byte{0x7f}}, {128, []byte{0x81, 0x80}}, {255, []byte{0x81, 0xff}},
		{256, []byte{0x82, 1, 0}}, {65535, []byte{0x82, 0xff, 0xff}}, {65536, []byte{0x84, 0, 1, 0, 0}},
	} {
		if got := Length(c.n); !bytes.Equal(got, c.want) {
			t.Errorf("Length(%d) = % x, want % x", c.n, got, c.want)
		}
	}
}

// What the package writes reads back, through an independent BER
// decoder (go-asn1-ber, which go-ldap uses), as the LDAPMessage meant.
func TestMessagesDecode(t *testing.T) {
	p, err := ber.DecodePacketErr(Message(300, BindRequest("CN=a", "pw")))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Children) != 2 || p.Children[0].Value != int64(300) {
		t.Fatalf("bind message: %s", dump(p))
	}
	bind := p.Children[1]
	if bind.ClassType != ber.ClassApplication || bind.Tag != 0 || len(bind.Children) != 3 ||
		bind.Children[0].Value != int64(3) || bind.Children[1].Value != "CN=a" || bind.Children[2].Data.String() != "pw" {
		t.Fatalf("bind request: %s", dump(bind))
	}

	p, err = ber.DecodePacketErr(Message(7, SearchRequest("DC=contoso,DC=com", NestedFilter(5), "cn", "mail"), TLV(0x30, Octets("1.2.3"))))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Children) != 3 || p.Children[2].ClassType != ber.ClassContext || len(p.Children[2].Children) != 1 {
		t.Fatalf("search message with a control: %s", dump(p))
	}
	s := p.Children[1]
	if s.Tag != 3 || len(s.Children) != 8 || s.Children[0].Value != "DC=contoso,DC=com" || s.Children[1].Value != int64(2) ||
		len(s.Children[7].Children) != 2 || s.Children[7].Children[1].Value != "mail" {
		t.Fatalf("search request: %s", dump(s))
	}
	f := s.Children[6]
	for depth, tag := range []ber.Tag{0, 1, 2, 0, 1} {
		if f.ClassType != ber.ClassContext || f.TagType != ber.TypeConstructed || f.Tag != tag || len(f.Children) != 1 {
			t.Fatalf("filter at depth %d: %s", depth, dump(f))
		}
		f = f.Children[0]
	}
	if f.Tag != 7 || f.Data.String() != "objectClass" {
		t.Fatalf("innermost filter: %s", dump(f))
	}
}

func dump(p *ber.Packet) string {
	var b bytes.Buffer
	ber.WritePacket(&b, p)
	return b.String()
}
