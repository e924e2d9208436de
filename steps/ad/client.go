package ad

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"

	"github.com/go-ldap/ldap/v3"
)

// Client is an open, bound connection to a domain controller. It implements
// Directory and io.Closer; it is safe for concurrent use.
//
// A DC drops connections that sit idle (AD's MaxConnIdleTime is 15
// minutes), and a run that awaits sync for hours between two AD steps would
// otherwise meet a dead connection. So a Client dials and binds again when
// its connection has closed: before any request, and once more for a search
// that failed on the network. A write that failed on the network is not
// sent again here, because it may have been applied; the error goes back
// to the engine, whose retry observes before it writes again.
type Client struct {
	s      settings
	mu     sync.Mutex
	conn   *ldap.Conn
	baseDN string
	closed bool
}

var (
	_ Directory = (*Client)(nil)
	_ io.Closer = (*Client)(nil)
)

// errClosed is returned by requests on a Client after Close.
var errClosed = errors.New("ad: the connection to the domain controller was closed")

func dial(s settings) (*Client, error) {
	conn, err := connect(s)
	if err != nil {
		return nil, err
	}
	return &Client{s: s, conn: conn, baseDN: s.baseDN}, nil
}

// connect dials, secures and binds one connection.
func connect(s settings) (*ldap.Conn, error) {
	u, _ := url.Parse(s.url)
	tc, err := tlsConfig(s, u.Hostname())
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: dialTimeout}
	var opts []ldap.DialOpt
	if u.Scheme == "ldaps" {
		opts = append(opts, ldap.DialWithTLSDialer(tc, d))
	} else {
		opts = append(opts, ldap.DialWithDialer(d))
	}
	conn, err := ldap.DialURL(s.url, opts...)
	if err != nil {
		return nil, fmt.Errorf("ad: connect to %s: %w", s.url, err)
	}
	conn.SetTimeout(dialTimeout)
	if u.Scheme == "ldap" && s.startTLS {
		if err := conn.StartTLS(tc); err != nil {
			conn.Close()
			return nil, fmt.Errorf("ad: StartTLS with %s: %w", s.url, err)
		}
	}
	if err := conn.Bind(s.bindDN, s.password); err != nil {
		conn.Close()
		return nil, wrapErr(err, "bind as", s.bindDN, "")
	}
	return conn, nil
}

// current returns a live connection, reconnecting when the old one has
// closed or is stale, the one a request has just failed on.
func (c *Client) current(stale *ldap.Conn) (*ldap.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errClosed
	}
	if c.conn != nil && c.conn != stale && !c.conn.IsClosing() {
		return c.conn, nil
	}
	if c.conn != nil {
		c.conn.Close()
	}
	conn, err := connect(c.s)
	if err != nil {
		c.conn = nil
		return nil, err
	}
	c.conn = conn
	return conn, nil
}

// isNetwork reports whether err says the connection failed, rather than
// the DC answering.
func isNetwork(err error) bool {
	var le *ldap.Error
	return errors.As(err, &le) && le.ResultCode == ldap.ErrorNetwork
}

// read runs a search, once more on a new connection if the network failed.
func (c *Client) read(op func(*ldap.Conn) (*ldap.SearchResult, error)) (*ldap.SearchResult, error) {
	conn, err := c.current(nil)
	if err != nil {
		return nil, err
	}
	res, err := op(conn)
	if err != nil && isNetwork(err) {
		if conn, err2 := c.current(conn); err2 == nil {
			return op(conn)
		}
	}
	return res, err
}

// write runs a write once.
func (c *Client) write(op func(*ldap.Conn) error) error {
	conn, err := c.current(nil)
	if err != nil {
		return err
	}
	return op(conn)
}

// BaseDN returns the target's naming context.
func (c *Client) BaseDN() string { return c.baseDN }

// Search runs one search request.
func (c *Client) Search(req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	return c.read(func(conn *ldap.Conn) (*ldap.SearchResult, error) { return conn.Search(req) })
}

// SearchWithPaging runs a search in pages of pagingSize (RFC 2696).
func (c *Client) SearchWithPaging(req *ldap.SearchRequest, pagingSize uint32) (*ldap.SearchResult, error) {
	return c.read(func(conn *ldap.Conn) (*ldap.SearchResult, error) {
		// go-ldap adds its paging control to req.Controls; a second
		// attempt must start without the first one's cookie.
		r := *req
		r.Controls = append([]ldap.Control(nil), req.Controls...)
		return conn.SearchWithPaging(&r, pagingSize)
	})
}

// Modify runs one modify request.
func (c *Client) Modify(req *ldap.ModifyRequest) error {
	return c.write(func(conn *ldap.Conn) error { return conn.Modify(req) })
}

// Add runs one add request.
func (c *Client) Add(req *ldap.AddRequest) error {
	return c.write(func(conn *ldap.Conn) error { return conn.Add(req) })
}

// Del runs one delete request.
func (c *Client) Del(req *ldap.DelRequest) error {
	return c.write(func(conn *ldap.Conn) error { return conn.Del(req) })
}

// Close closes the connection; later requests fail.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}
