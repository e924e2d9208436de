package ldapserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// The front end reads LDAP messages as BER (RFC 4511 section 5.1) without
// decoding them into trees: it checks their framing and shape, and leaves
// the decoding to gldap behind it. These are the few BER facts it needs.
const (
	tagInteger    = 0x02
	tagOctets     = 0x04
	tagEnumerated = 0x0a
	tagSequence   = 0x30 // universal, constructed
	classMask     = 0xc0
	classApp      = 0x40
	constructed   = 0x20
	tagNumberMask = 0x1f
)

// LDAP protocol operations by their APPLICATION tag number (RFC 4511
// section 4.2 to 4.12).
const (
	opBindRequest     = 0
	opBindResponse    = 1
	opUnbindRequest   = 2
	opSearchRequest   = 3
	opSearchEntry     = 4
	opSearchDone      = 5
	opModifyRequest   = 6
	opModifyResponse  = 7
	opAddRequest      = 8
	opAddResponse     = 9
	opDelRequest      = 10
	opDelResponse     = 11
	opModDNRequest    = 12
	opModDNResponse   = 13
	opCompareRequest  = 14
	opCompareResponse = 15
	opAbandonRequest  = 16
	opExtendedRequest = 23
	opExtendedResp    = 24
)

// responseOp is the response each request is answered with; requests
// without an answer (unbind, abandon) are absent.
var responseOp = map[int]int{
	opBindRequest: opBindResponse, opSearchRequest: opSearchDone, opModifyRequest: opModifyResponse,
	opAddRequest: opAddResponse, opDelRequest: opDelResponse, opModDNRequest: opModDNResponse,
	opCompareRequest: opCompareResponse, opExtendedRequest: opExtendedResp,
}

// finalResponse reports whether a response operation ends its request:
// everything but search entries and references and intermediate
// responses.
func finalResponse(op int) bool {
	switch op {
	case opBindResponse, opSearchDone, opModifyResponse, opAddResponse, opDelResponse,
		opModDNResponse, opCompareResponse, opExtendedResp:
		return true
	}
	return false
}

// Why the front end refuses a message.
var (
	// errMalformed is BER or an LDAPMessage the front end cannot frame:
	// RFC 4511 section 4.1.1 has the server send a Notice of
	// Disconnection with protocolError and end the session.
	errMalformed = errors.New("malformed LDAP message")
	// errTooLarge is a message over MaxReceiveBuffer.
	errTooLarge = errors.New("LDAP message over MaxReceiveBuffer")
	// errOverLimits is a well-formed message too deep, with too many
	// elements or too costly to decode.
	errOverLimits = errors.New("LDAP message over the lab's decoding limits")
)

// readHeader reads a BER identifier and definite length. LDAP uses only
// low tag numbers and the definite form of length (RFC 4511 section 5.1);
// the long form may use up to four length octets here, and any length over
// limit is errTooLarge.
func readHeader(r *bufio.Reader, limit int) (tag byte, length int, hdr []byte, err error) {
	tag, err = r.ReadByte()
	if err != nil {
		return 0, 0, nil, err
	}
	hdr = append(hdr, tag)
	if tag&tagNumberMask == tagNumberMask {
		return 0, 0, nil, fmt.Errorf("%w: high tag number", errMalformed)
	}
	b, err := r.ReadByte()
	if err != nil {
		return 0, 0, nil, unexpectedEOF(err)
	}
	hdr = append(hdr, b)
	length, _, err = lengthValue(b, func() (byte, error) {
		c, err := r.ReadByte()
		if err == nil {
			hdr = append(hdr, c)
		}
		return c, unexpectedEOF(err)
	})
	if err != nil {
		return 0, 0, nil, err
	}
	if length > limit {
		return 0, 0, nil, fmt.Errorf("%w: %d bytes", errTooLarge, length)
	}
	return tag, length, hdr, nil
}

// lengthValue decodes a BER length whose first octet is first, reading
// further octets with next; n is how many octets it took.
func lengthValue(first byte, next func() (byte, error)) (length, n int, err error) {
	switch {
	case first < 0x80:
		return int(first), 1, nil
	case first == 0x80:
		return 0, 0, fmt.Errorf("%w: indefinite length", errMalformed)
	case first == 0xff:
		return 0, 0, fmt.Errorf("%w: reserved length octet", errMalformed)
	}
	k := int(first & 0x7f)
	if k > 4 {
		return 0, 0, fmt.Errorf("%w: a %d-octet length", errTooLarge, k)
	}
	for i := 0; i < k; i++ {
		c, err := next()
		if err != nil {
			return 0, 0, err
		}
		length = length<<8 | int(c)
	}
	if length > 1<<31-1 {
		return 0, 0, fmt.Errorf("%w: length %d", errTooLarge, length)
	}
	return length, 1 + k, nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// element is one BER element of a buffer: its identifier, where its
// contents start and where it ends.
type element struct {
	tag        byte
	start, end int
}

// parseAt reads the element at b[pos:], which must end within b.
func parseAt(b []byte, pos int) (element, error) {
	if pos+2 > len(b) {
		return element{}, fmt.Errorf("%w: truncated element", errMalformed)
	}
	tag := b[pos]
	if tag&tagNumberMask == tagNumberMask || tag == 0 {
		return element{}, fmt.Errorf("%w: tag %#x", errMalformed, tag)
	}
	i := pos + 2
	length, n, err := lengthValue(b[pos+1], func() (byte, error) {
		if i >= len(b) {
			return 0, fmt.Errorf("%w: truncated length", errMalformed)
		}
		i++
		return b[i-1], nil
	})
	if err != nil {
		return element{}, err
	}
	start := pos + 1 + n
	if length > len(b)-start {
		return element{}, fmt.Errorf("%w: an element overruns its container", errMalformed)
	}
	return element{tag: tag, start: start, end: start + length}, nil
}

// decodeLimits bound what decoding a message may cost gldap's BER reader,
// which keeps a tree node per element and, in every constructed element, a
// copy of its contents: a message's decoding holds about the sum of its
// elements' sizes.
type decodeLimits struct {
	depth    int // nesting of constructed elements
	elements int
	cost     int // sum of the elements' encoded sizes
}

// checkShape walks the BER elements of body (an LDAPMessage's contents)
// without recursion, however deep they nest, and reports errMalformed for
// broken framing and errOverLimits past lim.
func checkShape(body []byte, lim decodeLimits) error {
	var ends []int // the ends of the open constructed elements
	elements, cost := 0, 0
	for pos := 0; pos < len(body); {
		e, err := parseAt(body[:limitOf(ends, len(body))], pos)
		if err != nil {
			return err
		}
		elements++
		cost += e.end - pos
		if elements > lim.elements || cost > lim.cost {
			return fmt.Errorf("%w: over %d elements or %d bytes to decode", errOverLimits, lim.elements, lim.cost)
		}
		if e.tag&constructed != 0 {
			ends = append(ends, e.end)
			if len(ends) > lim.depth {
				return fmt.Errorf("%w: nested deeper than %d", errOverLimits, lim.depth)
			}
			pos = e.start
		} else {
			pos = e.end
		}
		for len(ends) > 0 && pos == ends[len(ends)-1] {
			ends = ends[:len(ends)-1]
		}
	}
	if len(ends) > 0 {
		return fmt.Errorf("%w: an element ends early", errMalformed)
	}
	return nil
}

// limitOf is where the innermost open element ends, else n.
func limitOf(ends []int, n int) int {
	if len(ends) > 0 {
		return ends[len(ends)-1]
	}
	return n
}

// envelope is what the front end needs of an LDAPMessage: its message ID,
// its protocol operation's tag number and, for an extended request or
// response, its name, and for a response its result code.
type envelope struct {
	id     int
	op     int
	name   string // requestName or responseName
	result int
}

// readEnvelope reads the messageID and protocolOp of an LDAPMessage's
// contents (RFC 4511 section 4.1.1): a non-negative INTEGER then an
// APPLICATION-class operation, then optionally controls.
func readEnvelope(body []byte) (envelope, error) {
	var env envelope
	idEl, err := parseAt(body, 0)
	if err != nil {
		return env, err
	}
	id := body[idEl.start:idEl.end]
	if idEl.tag != tagInteger || len(id) == 0 || len(id) > 4 || id[0]&0x80 != 0 {
		return env, fmt.Errorf("%w: the messageID is not an INTEGER from 0 to 2^31-1", errMalformed)
	}
	for _, c := range id {
		env.id = env.id<<8 | int(c)
	}
	if idEl.end >= len(body) {
		return env, fmt.Errorf("%w: no protocolOp", errMalformed)
	}
	opEl, err := parseAt(body, idEl.end)
	if err != nil {
		return env, err
	}
	if opEl.tag&classMask != classApp {
		return env, fmt.Errorf("%w: the protocolOp is not of the APPLICATION class", errMalformed)
	}
	env.op = int(opEl.tag & tagNumberMask)
	if opEl.end < len(body) {
		ctl, err := parseAt(body, opEl.end)
		if err != nil || ctl.tag != 0xa0 || ctl.end != len(body) {
			return env, fmt.Errorf("%w: data after the protocolOp that is not controls", errMalformed)
		}
	}
	if opEl.tag&constructed == 0 {
		return env, nil
	}
	// Inside the operation: an extended request's requestName [0], or a
	// response's LDAPResult (resultCode first) and an extended
	// response's responseName [10].
	op := body[opEl.start:opEl.end]
	for pos := 0; pos < len(op); {
		e, err := parseAt(op, pos)
		if err != nil {
			return env, err
		}
		switch {
		case pos == 0 && e.tag == tagEnumerated && e.end-e.start <= 4:
			for _, c := range op[e.start:e.end] {
				env.result = env.result<<8 | int(c)
			}
		case e.tag == 0x80 && env.op == opExtendedRequest, e.tag == 0x8a && env.op == opExtendedResp:
			env.name = string(op[e.start:e.end])
		}
		pos = e.end
	}
	return env, nil
}

// tlv encodes one BER element with a definite length.
func tlv(tag byte, contents ...[]byte) []byte {
	n := 0
	for _, c := range contents {
		n += len(c)
	}
	out := []byte{tag}
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 1<<8:
		out = append(out, 0x81, byte(n))
	case n < 1<<16:
		out = append(out, 0x82, byte(n>>8), byte(n))
	default:
		out = append(out, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	for _, c := range contents {
		out = append(out, c...)
	}
	return out
}

// integer encodes a non-negative INTEGER (or ENUMERATED with tag) in the
// fewest octets.
func integer(tag byte, v int) []byte {
	b := []byte{byte(v)}
	for v >>= 8; v > 0; v >>= 8 {
		b = append([]byte{byte(v)}, b...)
	}
	if b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	return tlv(tag, b)
}

// ldapResult encodes an LDAPMessage answering message id with operation op
// (a response tag number) and an LDAPResult; extra elements follow it
// inside the operation (an extended response's responseName).
func ldapResult(id, op, code int, diag string, extra ...[]byte) []byte {
	parts := append([][]byte{integer(tagEnumerated, code), tlv(tagOctets), tlv(tagOctets, []byte(diag))}, extra...)
	return tlv(tagSequence, integer(tagInteger, id), tlv(classApp|constructed|byte(op), parts...))
}

// oidNoticeOfDisconnection names the unsolicited notification a server
// sends before it ends a session (RFC 4511 section 4.4.1).
const oidNoticeOfDisconnection = "1.3.6.1.4.1.1466.20036"

// noticeOfDisconnection encodes the Notice of Disconnection: an extended
// response with message ID 0 and the notice's responseName.
func noticeOfDisconnection(code int, diag string) []byte {
	return ldapResult(0, opExtendedResp, code, diag, tlv(0x8a, []byte(oidNoticeOfDisconnection)))
}
