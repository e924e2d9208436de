package adversarial

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// maxLabRSS is the peak resident memory the lab may reach under the
// attacks: the healthy scenario, the Go runtime, and the bounded buffers
// the attacks fill (4 MB request bodies, LDAP messages up to AD's 10 MB
// MaxReceiveBuffer in a shared budget). Before the limits, one burst of
// 50 MB bodies took it to 3.3 GB.
const maxLabRSS = 768 << 20

// A raw LDAP client, to send what no well-behaved library sends.

func tlv(tag byte, contents ...[]byte) []byte {
	n := 0
	for _, c := range contents {
		n += len(c)
	}
	out := append([]byte{tag}, berLength(n)...)
	for _, c := range contents {
		out = append(out, c...)
	}
	return out
}

func berLength(n int) []byte {
	switch {
	case n < 0x80:
		return []byte{byte(n)}
	case n < 1<<8:
		return []byte{0x81, byte(n)}
	case n < 1<<16:
		return []byte{0x82, byte(n >> 8), byte(n)}
	}
	return []byte{0x84, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
}

func octets(s string) []byte { return tlv(0x04, []byte(s)) }

func ldapMessage(id int, op []byte, controls ...[]byte) []byte {
	parts := [][]byte{tlv(0x02, []byte{byte(id >> 8), byte(id)}), op}
	if len(controls) > 0 {
		parts = append(parts, tlv(0xa0, controls...))
	}
	return tlv(0x30, parts...)
}

func bindRequest(name, password string) []byte {
	return tlv(0x60, tlv(0x02, []byte{3}), octets(name), tlv(0x80, []byte(password)))
}

func searchRequest(base string, filter []byte) []byte {
	return tlv(0x63, octets(base), tlv(0x0a, []byte{2}), tlv(0x0a, []byte{0}), tlv(0x02, []byte{0}),
		tlv(0x02, []byte{0}), tlv(0x01, []byte{0}), filter, tlv(0x30, octets("cn")))
}

// nestedFilter is (objectClass=*) inside depth and/or/not filters, built
// in linear time.
func nestedFilter(depth int) []byte {
	inner := tlv(0x87, []byte("objectClass"))
	lengths := make([]int, depth+1)
	lengths[depth] = len(inner)
	for i := depth - 1; i >= 0; i-- {
		lengths[i] = 1 + len(berLength(lengths[i+1])) + lengths[i+1]
	}
	var out bytes.Buffer
	for i := 0; i < depth; i++ {
		out.WriteByte([]byte{0xa0, 0xa1, 0xa2}[i%3])
		out.Write(berLength(lengths[i+1]))
	}
	out.Write(inner)
	return out.Bytes()
}

// ldapAnswer is what came back for one abusive message: a response's
// result code and operation, a Notice of Disconnection, or the connection
// closing.
type ldapAnswer struct {
	op     ber.Tag
	code   int64
	notice bool
	closed bool
}

// sendLDAP sends msg on a new connection (bound first when bind is set)
// and reads until a final response or the end of the connection.
func (lc *labChild) sendLDAP(bind bool, msg []byte) (ldapAnswer, error) {
	c, err := net.DialTimeout("tcp", lc.LDAP, 5*time.Second)
	if err != nil {
		return ldapAnswer{}, err
	}
	defer c.Close()
	if bind {
		c.Write(ldapMessage(1, bindRequest(lc.BindDN, lc.Password)))
		if _, err := readLDAP(c); err != nil {
			return ldapAnswer{}, fmt.Errorf("bind: %w", err)
		}
	}
	go c.Write(msg) // the lab may stop reading part way
	for {
		p, err := readLDAP(c)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return ldapAnswer{}, errors.New("the lab neither answered nor closed the connection")
			}
			return ldapAnswer{closed: true}, nil
		}
		if len(p.Children) < 2 || len(p.Children[1].Children) < 1 {
			return ldapAnswer{}, fmt.Errorf("an answer that is not an LDAPMessage: %x", p.Bytes())
		}
		op := p.Children[1]
		code, _ := op.Children[0].Value.(int64)
		id, _ := p.Children[0].Value.(int64)
		switch {
		case id == 0 && op.Tag == ldap.ApplicationExtendedResponse:
			return ldapAnswer{op: op.Tag, code: code, notice: true}, nil
		case op.Tag == ldap.ApplicationSearchResultEntry:
			continue
		}
		return ldapAnswer{op: op.Tag, code: code}, nil
	}
}

func readLDAP(c net.Conn) (*ber.Packet, error) {
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	return ber.ReadPacket(c)
}

// ldapAttack is one abusive LDAP message and what it must get: an error
// result, a Notice of Disconnection, or either.
type ldapAttack struct {
	name string
	bind bool
	msg  func(lc *labChild) []byte
}

func ldapAttacks() []ldapAttack {
	huge := strings.Repeat("x", 11<<20)
	return []ldapAttack{
		{"an 11 MB add", true, func(lc *labChild) []byte {
			return ldapMessage(2, tlv(0x68, octets("CN=huge,"+lc.BaseDN), tlv(0x30,
				tlv(0x30, octets("objectClass"), tlv(0x31, octets("user"))),
				tlv(0x30, octets("displayName"), tlv(0x31, octets(huge))))))
		}},
		{"a 9 MB displayName", true, func(lc *labChild) []byte {
			return ldapMessage(2, tlv(0x66, octets("CN=user00001,OU=Users,"+lc.BaseDN), tlv(0x30,
				tlv(0x30, tlv(0x0a, []byte{2}), tlv(0x30, octets("displayName"), tlv(0x31, octets(huge[:9<<20])))))))
		}},
		{"a filter nested 100,000 deep", true, func(lc *labChild) []byte {
			return ldapMessage(2, searchRequest(lc.BaseDN, nestedFilter(100_000)))
		}},
		{"a filter nested 999 deep", true, func(lc *labChild) []byte {
			return ldapMessage(2, searchRequest(lc.BaseDN, nestedFilter(999)))
		}},
		{"200,000 attributes asked for", true, func(lc *labChild) []byte {
			attrs := make([][]byte, 200_000)
			for i := range attrs {
				attrs[i] = octets("a")
			}
			return ldapMessage(2, tlv(0x63, octets(lc.BaseDN), tlv(0x0a, []byte{2}), tlv(0x0a, []byte{0}), tlv(0x02, []byte{0}),
				tlv(0x02, []byte{0}), tlv(0x01, []byte{0}), tlv(0x87, []byte("cn")), tlv(0x30, attrs...)))
		}},
		{"garbage bytes", false, func(*labChild) []byte { return []byte("\x00\xff\x13\x37garbage") }},
		{"HTTP to the LDAP port", false, func(*labChild) []byte { return []byte("GET / HTTP/1.1\r\n\r\n") }},
		{"indefinite length", false, func(*labChild) []byte { return []byte{0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00} }},
		{"a 2 GB length", false, func(*labChild) []byte { return []byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02} }},
		{"an element overrunning its message", false, func(*labChild) []byte {
			return []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x60, 0x7f, 0x00}
		}},
		{"a response sent as a request", false, func(*labChild) []byte {
			return ldapMessage(1, tlv(0x65, tlv(0x0a, []byte{0}), octets(""), octets("")))
		}},
		{"a bind with version 'three'", false, func(lc *labChild) []byte {
			return ldapMessage(1, tlv(0x60, octets("three"), octets(lc.BindDN), tlv(0x80, []byte(lc.Password))))
		}},
		{"a SASL bind", false, func(*labChild) []byte {
			return ldapMessage(1, tlv(0x60, tlv(0x02, []byte{3}), octets(""), tlv(0xa3, octets("GSSAPI"))))
		}},
		{"a bind with a 1 MB password", false, func(lc *labChild) []byte {
			return ldapMessage(1, bindRequest(lc.BindDN, huge[:1<<20]))
		}},
		{"a paged search with a foreign cookie", true, func(lc *labChild) []byte {
			ctl := tlv(0x30, octets(ldap.ControlTypePaging), octets(string(tlv(0x30, tlv(0x02, []byte{10}), octets("forged-cookie")))))
			return ldapMessage(2, searchRequest(lc.BaseDN, tlv(0x87, []byte("cn"))), ctl)
		}},
		{"a paging control that is not RFC 2696's", true, func(lc *labChild) []byte {
			ctl := tlv(0x30, octets(ldap.ControlTypePaging), octets(string(tlv(0x02, []byte{5}))))
			return ldapMessage(2, searchRequest(lc.BaseDN, tlv(0x87, []byte("cn"))), ctl)
		}},
	}
}

func TestLabSurvivesAbusiveLDAPClients(t *testing.T) {
	w := newWorkspace(t)
	lc := startLabChild(t, w, "healthy")

	t.Run("every abusive message gets an error or a notice", func(t *testing.T) {
		for _, a := range ldapAttacks() {
			got, err := lc.sendLDAP(a.bind, a.msg(lc))
			switch {
			case err != nil:
				t.Errorf("%s: %v", a.name, err)
			case got.closed:
				t.Errorf("%s: the connection closed without a result or a Notice of Disconnection", a.name)
			case !got.notice && got.code == 0:
				t.Errorf("%s: succeeded (operation %d)", a.name, got.op)
			}
		}
	})

	t.Run("a flood of connections", func(t *testing.T) {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i := 0; i < 1000; i++ {
			c, err := net.DialTimeout("tcp", lc.LDAP, 5*time.Second)
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			conns = append(conns, c)
			if i%3 == 0 { // some send half a message and stall
				c.Write([]byte{0x30, 0x84, 0x00, 0x90})
			}
		}
		// While they hang on, others still get answers.
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := lc.sendLDAP(true, ldapMessage(2, searchRequest(lc.BaseDN, tlv(0x87, []byte("cn")))))
				if err == nil && (got.notice || got.closed || got.code != 0) {
					err = fmt.Errorf("a search beside the flood: %+v", got)
				}
				if err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("many abusive messages at once", func(t *testing.T) {
		attacks := ldapAttacks()
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := 0; i < 64; i++ {
			wg.Add(1)
			go func(a ldapAttack) {
				defer wg.Done()
				if _, err := lc.sendLDAP(a.bind, a.msg(lc)); err != nil {
					errs <- fmt.Errorf("%s: %w", a.name, err)
				}
			}(attacks[i%len(attacks)])
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	// The lab still answers a client that behaves.
	c, err := ldap.DialURL("ldap://" + lc.LDAP)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Bind(lc.BindDN, lc.Password); err != nil {
		t.Fatalf("bind after the attacks: %v", err)
	}
	res, err := c.Search(ldap.NewSearchRequest(lc.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=user)", []string{"displayName"}, nil))
	if err != nil || len(res.Entries) == 0 {
		t.Fatalf("search after the attacks: %v (%d entries)", err, len(res.Entries))
	}
	for _, e := range res.Entries {
		if len(e.GetAttributeValue("displayName")) > 256 {
			t.Fatalf("%s: a refused displayName was stored", e.DN)
		}
	}
	c.Close()
	lc.stopUnharmed(t)
}
