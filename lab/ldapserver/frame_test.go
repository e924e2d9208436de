package ldapserver

import (
	"bufio"
	"bytes"
	"errors"
	"testing"
)

// FuzzFrame feeds arbitrary bytes to the front end's framing: reading a
// header, walking the elements and reading the envelope may refuse them,
// never panic, and every refusal is one of the front end's three kinds.
func FuzzFrame(f *testing.F) {
	f.Add([]byte{0x30, 0x05, 0x02, 0x01, 0x01, 0x42, 0x00})
	f.Add([]byte{0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00})
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	f.Add([]byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff})
	f.Add(noticeOfDisconnection(2, "x"))
	lim := decodeLimits{depth: 8, elements: 64, cost: 1 << 12}
	f.Fuzz(func(t *testing.T, b []byte) {
		tag, length, hdr, err := readHeader(bufio.NewReader(bytes.NewReader(b)), 1<<16)
		if err != nil {
			return
		}
		if len(hdr)+length > len(b) || tag != b[0] {
			return
		}
		body := b[len(hdr) : len(hdr)+length]
		for _, err := range []error{checkShape(body, lim), func() error { _, err := readEnvelope(body); return err }()} {
			if err != nil && !errors.Is(err, errMalformed) && !errors.Is(err, errTooLarge) && !errors.Is(err, errOverLimits) {
				t.Fatalf("%x: an error of no known kind: %v", b, err)
			}
		}
	})
}
