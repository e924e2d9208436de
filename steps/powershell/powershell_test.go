package powershell

import (
	"encoding/base64"
	"encoding/binary"
	"testing"
	"unicode/utf16"
)

// decode reverses EncodeCommand as PowerShell reads -EncodedCommand:
// Base64, then UTF-16LE.
func decode(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%2 != 0 {
		t.Fatalf("%q is not Base64 of UTF-16LE: %v", s, err)
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func TestEncodeCommand(t *testing.T) {
	// "dir" in UTF-16LE is 64 00 69 00 72 00.
	if got := EncodeCommand("dir"); got != "ZABpAHIA" {
		t.Fatalf("EncodeCommand(dir) = %s, want ZABpAHIA", got)
	}
	// A character outside the BMP takes a surrogate pair: U+1F600 is
	// D83D DE00, little-endian 3D D8 00 DE.
	if got := EncodeCommand("\U0001F600"); got != base64.StdEncoding.EncodeToString([]byte{0x3d, 0xd8, 0x00, 0xde}) {
		t.Fatalf("EncodeCommand(U+1F600) = %s", got)
	}
	for _, s := range []string{
		"Get-ADSyncScheduler | Select-Object SyncCycleEnabled | ConvertTo-Json -Compress",
		"Set-RemoteMailbox -Identity 'o''brien' -ExchangeGuid '3f2504e0-4f89-11d3-9a0c-0305e82c3301'",
		"Ünïcödé | \"quotes\" & $vars { }",
	} {
		if got := decode(t, EncodeCommand(s)); got != s {
			t.Fatalf("round trip of %q = %q", s, got)
		}
	}
}

// PowerShell takes the typographic single quotes for quotation marks too
// ("PowerShell treats smart quotation marks ... as normal quotation marks
// for strings", learn.microsoft.com/powershell/module/
// microsoft.powershell.core/about/about_quoting_rules), so each of them is
// doubled inside a single-quoted string, as ' is.
func TestQuoteDoublesEverySingleQuote(t *testing.T) {
	for _, q := range []string{"'", "\u2018", "\u2019", "\u201a", "\u201b"} {
		got := Quote("a" + q + "; Remove-Mailbox boss; " + q + "b")
		want := "'a" + q + q + "; Remove-Mailbox boss; " + q + q + "b'"
		if got != want {
			t.Errorf("Quote with %U: %s, want %s", []rune(q)[0], got, want)
		}
	}
}
