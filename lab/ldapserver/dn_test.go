package ldapserver

import "testing"

func TestCanonicalDN(t *testing.T) {
	for in, want := range map[string]string{
		"CN=ann, OU=Staff , DC=corp,DC=example,DC=com":                         "CN=ann,OU=Staff,DC=corp,DC=example,DC=com",
		" cn = Smith\\, Ann ,ou=Staff":                                         "cn=Smith\\, Ann,ou=Staff",
		`CN=ann\0ADEL:1effbc1e-4aa3-4f9d-a508-d4d81f1f5873,CN=Deleted Objects`: `CN=ann\0ADEL:1effbc1e-4aa3-4f9d-a508-d4d81f1f5873,CN=Deleted Objects`,
		`CN=trailing\ ,DC=x`:                                                   `CN=trailing\ ,DC=x`,
		"<GUID=1ebcff1ea34a9d4fa508d4d81f1f5873>":                              "<GUID=1effbc1e-4aa3-4f9d-a508-d4d81f1f5873>",
		"<GUID=1effbc1e-4aa3-4f9d-a508-d4d81f1f5873>":                          "<GUID=1effbc1e-4aa3-4f9d-a508-d4d81f1f5873>",
		"": "",
	} {
		if got := canonicalDN(in); got != want {
			t.Errorf("canonicalDN(%q) = %q, want %q", in, got, want)
		}
	}
}
