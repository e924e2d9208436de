// Package powershell is what the step types that run PowerShell on a
// server of the customer's (ad_remote_mailbox's Exchange cmdlets, adsync's
// Connect cmdlets) need to hand it a script: values quoted so PowerShell
// reads them as values, and the script encoded as -EncodedCommand takes
// it, so that no shell on the way (ssh, the remote cmd.exe) parses its
// quotes, pipes or braces.
package powershell

import (
	"encoding/base64"
	"encoding/binary"
	"strings"
	"unicode/utf16"
)

// Quote writes s as a PowerShell single-quoted string, in which nothing
// is expanded. PowerShell ends such a string on the typographic single
// quotes as well as on ' ("PowerShell treats smart quotation marks, also
// called typographic or curly quotes, as normal quotation marks for
// strings", https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_quoting_rules),
// so each of the five is doubled.
func Quote(s string) string { return "'" + singleQuotes.Replace(s) + "'" }

var singleQuotes = strings.NewReplacer("'", "''", "\u2018", "\u2018\u2018", "\u2019", "\u2019\u2019",
	"\u201a", "\u201a\u201a", "\u201b", "\u201b\u201b")

// EncodeCommand encodes a script for PowerShell's -EncodedCommand: Base64
// of its UTF-16LE bytes. about_PowerShell_exe: "Accepts a base-64-encoded
// string version of a command. Use this parameter to submit commands to
// PowerShell that require complex quotation marks or curly braces. The
// string must be formatted using UTF-16LE character encoding."
// (https://learn.microsoft.com/powershell/module/microsoft.powershell.core/about/about_powershell_exe).
func EncodeCommand(script string) string {
	u := utf16.Encode([]rune(script))
	b := make([]byte, 2*len(u))
	for i, r := range u {
		binary.LittleEndian.PutUint16(b[2*i:], r)
	}
	return base64.StdEncoding.EncodeToString(b)
}
