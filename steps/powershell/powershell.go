// Package powershell is what the step types that run PowerShell on a
// server of the customer's (ad_remote_mailbox's Exchange cmdlets, adsync's
// Connect cmdlets) need to hand it a script: the script encoded as
// -EncodedCommand takes it, so that no shell on the way (ssh, the remote
// cmd.exe) parses its quotes, pipes or braces.
package powershell

import (
	"encoding/base64"
	"encoding/binary"
	"unicode/utf16"
)

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
