package adversarial

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/rebind-dev/rebind/internal/ldapraw"
)

// maxLabRSS is the peak resident memory the lab may reach under the
// attacks: the healthy scenario, the Go runtime, and the bounded buffers
// the attacks fill (4 MB request bodies, LDAP messages up to AD's 10 MB
// MaxReceiveBuffer in a shared budget). Before the limits, one burst of
// 50 MB bodies took it to 3.3 GB.
const maxLabRSS = 768 << 20

// The attacks write their LDAP frames byte by byte with internal/ldapraw,
// to send what no well-behaved client library sends.

// searchRequest searches base's subtree for cn with a filter already
// encoded.
func searchRequest(base string, filter []byte) []byte {
	return ldapraw.SearchRequest(base, filter, "cn")
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
		c.Write(ldapraw.Message(1, ldapraw.BindRequest(lc.BindDN, lc.Password)))
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
			return ldapraw.Message(2, ldapraw.TLV(0x68, ldapraw.Octets("CN=huge,"+lc.BaseDN), ldapraw.TLV(0x30,
				ldapraw.TLV(0x30, ldapraw.Octets("objectClass"), ldapraw.TLV(0x31, ldapraw.Octets("user"))),
				ldapraw.TLV(0x30, ldapraw.Octets("displayName"), ldapraw.TLV(0x31, ldapraw.Octets(huge))))))
		}},
		{"a 9 MB displayName", true, func(lc *labChild) []byte {
			return ldapraw.Message(2, ldapraw.TLV(0x66, ldapraw.Octets("CN=user00001,OU=Users,"+lc.BaseDN), ldapraw.TLV(0x30,
				ldapraw.TLV(0x30, ldapraw.TLV(0x0a, []byte{2}), ldapraw.TLV(0x30, ldapraw.Octets("displayName"), ldapraw.TLV(0x31, ldapraw.Octets(huge[:9<<20])))))))
		}},
		{"a filter nested 100,000 deep", true, func(lc *labChild) []byte {
			return ldapraw.Message(2, searchRequest(lc.BaseDN, ldapraw.NestedFilter(100_000)))
		}},
		{"a filter nested 999 deep", true, func(lc *labChild) []byte {
			return ldapraw.Message(2, searchRequest(lc.BaseDN, ldapraw.NestedFilter(999)))
		}},
		{"200,000 attributes asked for", true, func(lc *labChild) []byte {
			attrs := make([][]byte, 200_000)
			for i := range attrs {
				attrs[i] = ldapraw.Octets("a")
			}
			return ldapraw.Message(2, ldapraw.TLV(0x63, ldapraw.Octets(lc.BaseDN), ldapraw.TLV(0x0a, []byte{2}), ldapraw.TLV(0x0a, []byte{0}), ldapraw.TLV(0x02, []byte{0}),
				ldapraw.TLV(0x02, []byte{0}), ldapraw.TLV(0x01, []byte{0}), ldapraw.TLV(0x87, []byte("cn")), ldapraw.TLV(0x30, attrs...)))
		}},
		{"garbage bytes", false, func(*labChild) []byte { return []byte("\x00\xff\x13\x37garbage") }},
		{"HTTP to the LDAP port", false, func(*labChild) []byte { return []byte("GET / HTTP/1.1\r\n\r\n") }},
		{"indefinite length", false, func(*labChild) []byte { return []byte{0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00} }},
		{"a 2 GB length", false, func(*labChild) []byte { return []byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02} }},
		{"an element overrunning its message", false, func(*labChild) []byte {
			return []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x60, 0x7f, 0x00}
		}},
		{"a response sent as a request", false, func(*labChild) []byte {
			return ldapraw.Message(1, ldapraw.TLV(0x65, ldapraw.TLV(0x0a, []byte{0}), ldapraw.Octets(""), ldapraw.Octets("")))
		}},
		{"a bind with version 'three'", false, func(lc *labChild) []byte {
			return ldapraw.Message(1, ldapraw.TLV(0x60, ldapraw.Octets("three"), ldapraw.Octets(lc.BindDN), ldapraw.TLV(0x80, []byte(lc.Password))))
		}},
		{"a SASL bind", false, func(*labChild) []byte {
			return ldapraw.Message(1, ldapraw.TLV(0x60, ldapraw.TLV(0x02, []byte{3}), ldapraw.Octets(""), ldapraw.TLV(0xa3, ldapraw.Octets("GSSAPI"))))
		}},
		{"a bind with a 1 MB password", false, func(lc *labChild) []byte {
			return ldapraw.Message(1, ldapraw.BindRequest(lc.BindDN, huge[:1<<20]))
		}},
		{"a paged search with a foreign cookie", true, func(lc *labChild) []byte {
			ctl := ldapraw.TLV(0x30, ldapraw.Octets(ldap.ControlTypePaging), ldapraw.Octets(string(ldapraw.TLV(0x30, ldapraw.TLV(0x02, []byte{10}), ldapraw.Octets("forged-cookie")))))
			return ldapraw.Message(2, searchRequest(lc.BaseDN, ldapraw.TLV(0x87, []byte("cn"))), ctl)
		}},
		{"a paging control that is not RFC 2696's", true, func(lc *labChild) []byte {
			ctl := ldapraw.TLV(0x30, ldapraw.Octets(ldap.ControlTypePaging), ldapraw.Octets(string(ldapraw.TLV(0x02, []byte{5}))))
			return ldapraw.Message(2, searchRequest(lc.BaseDN, ldapraw.TLV(0x87, []byte("cn"))), ctl)
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
				got, err := lc.sendLDAP(true, ldapraw.Message(2, searchRequest(lc.BaseDN, ldapraw.TLV(0x87, []byte("cn")))))
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
