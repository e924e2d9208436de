package ldapserver

// TLV exposes the BER encoder to the external tests, which build the
// malformed frames no well-behaved client library sends.
var TLV = tlv
