package labhttp

import (
	"fmt"
	"strings"

	"github.com/rebind-dev/rebind/anchor"
	"github.com/rebind-dev/rebind/lab"
)

// The -Filter parameter of the lab's Get-Mailbox, Get-MailUser and
// Get-Recipient, as Exchange documents it:
//
//   - "The Filter parameter uses OPATH syntax ... `"Property
//     -ComparisonOperator 'Value'"` ... You can chain multiple search
//     criteria together using the logical operators `-and` and `-or`. For
//     example, `"Criteria1 -and Criteria2"` or `"(Criteria1 -and Criteria2)
//     -or Criteria3"`" (Get-Recipient and Get-Mailbox, -Filter,
//     https://learn.microsoft.com/powershell/module/exchangepowershell/get-recipient).
//   - eq and ne are "equals and not equals, case-insensitive"; text values
//     are enclosed in single quotation marks, a quotation mark inside one
//     doubled; `$null` looks for blank values ("Recipient filters in
//     Exchange PowerShell commands", Additional OPATH syntax information,
//     https://learn.microsoft.com/powershell/exchange/recipient-filters).
//   - "A property is filterable only on the cmdlets listed in its section.
//     Using it on a cmdlet that isn't listed returns a 'not a recognized
//     filterable property' error"; GUIDs "require an exact match with -eq
//     or -ne"; EmailAddresses: "When you use a complete email address, you
//     don't need to account for the smtp: prefix ... Although this property
//     is multi-valued, the filter returns a match if the property contains
//     the specified value"; "Any filter that uses the PrimarySmtpAddress
//     property also searches values in the EmailAddresses property"
//     ("Filterable properties for the Filter parameter",
//     https://learn.microsoft.com/powershell/exchange/filter-properties).
//
// The lab knows the properties below (the cmdlets of each are the page's);
// -like, -not and other operators are refused with an error that says so,
// rather than guessed.
var exoFilterable = map[string]struct {
	cmdlets []string
	guid    bool
	values  func(*lab.Recipient) []string
}{
	"ExchangeGuid": {[]string{"get-mailbox", "get-mailuser", "get-recipient"}, true,
		func(r *lab.Recipient) []string { return []string{r.ExchangeGUID.String()} }},
	"ArchiveGuid": {[]string{"get-mailbox", "get-mailuser", "get-recipient"}, true,
		func(r *lab.Recipient) []string { return []string{r.ArchiveGUID.String()} }},
	"ExternalDirectoryObjectId": {[]string{"get-mailbox", "get-mailuser", "get-recipient"}, true,
		func(r *lab.Recipient) []string { return []string{r.ExternalDirectoryObjectID} }},
	// Guid is the object's GUID; the lab serves ExchangeObjectId as it.
	"Guid": {[]string{"get-mailbox", "get-mailuser", "get-recipient"}, true,
		func(r *lab.Recipient) []string { return []string{r.ExchangeObjectID} }},
	"UserPrincipalName": {[]string{"get-mailbox", "get-mailuser"}, false,
		func(r *lab.Recipient) []string { return []string{r.UserPrincipalName} }},
	"Alias": {[]string{"get-mailbox", "get-mailuser", "get-recipient"}, false,
		func(r *lab.Recipient) []string { return []string{r.Alias} }},
	"EmailAddresses":     {[]string{"get-mailbox", "get-mailuser", "get-recipient"}, false, emailValues},
	"PrimarySmtpAddress": {[]string{"get-mailbox", "get-mailuser", "get-recipient"}, false, emailValues},
}

// emailValues are a recipient's addresses, each with and without its
// prefix (smtp:, SMTP:, x500: ...), so that a complete address matches
// with or without it.
func emailValues(r *lab.Recipient) []string {
	out := []string{r.PrimarySMTPAddress}
	for _, a := range r.EmailAddresses {
		out = append(out, a)
		if _, addr, ok := strings.Cut(a, ":"); ok {
			out = append(out, addr)
		}
	}
	return out
}

// exoFilter is a parsed OPATH filter: it reports whether a recipient
// passes.
type exoFilter func(*lab.Recipient) bool

// parseExoFilter parses src for cmdlet (lower case).
func parseExoFilter(cmdlet, src string) (exoFilter, error) {
	p := &opathParser{cmdlet: cmdlet, src: src}
	p.next()
	f, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.tok != "" {
		return nil, fmt.Errorf("Invalid filter syntax. The filter %q has %q where an operator (-and, -or) or its end was expected, at position %d.", src, p.tok, p.at)
	}
	return f, nil
}

// opathParser reads tokens: ( ) -operator 'text' $null and bare words.
type opathParser struct {
	cmdlet, src string
	pos, at     int
	tok         string
	quoted      bool
	err         error
}

func (p *opathParser) next() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
	p.at, p.quoted = p.pos, false
	if p.pos >= len(p.src) {
		p.tok = ""
		return
	}
	switch c := p.src[p.pos]; {
	case c == '(' || c == ')':
		p.tok = string(c)
		p.pos++
	case c == '\'':
		var b strings.Builder
		i := p.pos + 1
		for {
			if i >= len(p.src) {
				p.err = fmt.Errorf("Invalid filter syntax. The text value at position %d of %q has no closing quotation mark.", p.pos, p.src)
				p.tok, p.pos = "", len(p.src)
				return
			}
			if p.src[i] == '\'' {
				if i+1 < len(p.src) && p.src[i+1] == '\'' {
					b.WriteByte('\'')
					i += 2
					continue
				}
				break
			}
			b.WriteByte(p.src[i])
			i++
		}
		p.tok, p.quoted, p.pos = b.String(), true, i+1
	default:
		i := p.pos
		for i < len(p.src) && !strings.ContainsRune(" \t()'", rune(p.src[i])) {
			i++
		}
		p.tok, p.pos = p.src[p.pos:i], i
	}
}

func (p *opathParser) isOp(name string) bool { return !p.quoted && strings.EqualFold(p.tok, name) }

func (p *opathParser) or() (exoFilter, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isOp("-or") {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(x *lab.Recipient) bool { return a(x) || b(x) }
	}
	return l, nil
}

func (p *opathParser) and() (exoFilter, error) {
	l, err := p.criterion()
	if err != nil {
		return nil, err
	}
	for p.isOp("-and") {
		p.next()
		r, err := p.criterion()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(x *lab.Recipient) bool { return a(x) && b(x) }
	}
	return l, nil
}

// criterion is `( filter )` or `Property -eq|-ne 'Value'|$null`.
func (p *opathParser) criterion() (exoFilter, error) {
	if p.err != nil {
		return nil, p.err
	}
	if p.isOp("(") {
		p.next()
		f, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.isOp(")") {
			return nil, fmt.Errorf("Invalid filter syntax. A closing parenthesis is missing at position %d of %q.", p.at, p.src)
		}
		p.next()
		return f, nil
	}
	if p.tok == "" || p.quoted || strings.HasPrefix(p.tok, "-") {
		return nil, fmt.Errorf("Invalid filter syntax. A property name was expected at position %d of %q.", p.at, p.src)
	}
	name := p.tok
	var prop string
	for k := range exoFilterable {
		if strings.EqualFold(k, name) {
			prop = k
		}
	}
	def, ok := exoFilterable[prop]
	if !ok || !containsFold(def.cmdlets, p.cmdlet) {
		return nil, fmt.Errorf("'%s' is not a recognized filterable property of %s in the lab (it filters on ExchangeGuid, ArchiveGuid, "+
			"ExternalDirectoryObjectId, Guid, Alias, EmailAddresses, PrimarySmtpAddress, and UserPrincipalName on Get-Mailbox and Get-MailUser).", name, p.cmdlet)
	}
	p.next()
	var neg bool
	switch {
	case p.isOp("-eq"):
	case p.isOp("-ne"):
		neg = true
	default:
		return nil, fmt.Errorf("The lab's -Filter compares with -eq and -ne only; %q at position %d of %q is not one of them.", p.tok, p.at, p.src)
	}
	p.next()
	var want string
	isNull := false
	switch {
	case p.err != nil:
		return nil, p.err
	case p.quoted:
		want = p.tok
	case strings.EqualFold(p.tok, "$null"):
		isNull = true
	default:
		return nil, fmt.Errorf("Invalid filter syntax. A text value in single quotation marks or $null was expected at position %d of %q.", p.at, p.src)
	}
	p.next()
	var g anchor.GUID
	if def.guid && !isNull {
		var err error
		if g, err = anchor.ParseGUID(want); err != nil {
			return nil, fmt.Errorf("Cannot convert '%s' for the %s filter: it is not a GUID.", want, prop)
		}
	}
	blank := func(v string) bool { return v == "" || def.guid && v == (anchor.GUID{}).String() }
	match := func(r *lab.Recipient) bool {
		vals := def.values(r)
		if isNull {
			// "Property -eq $null" is true of a blank value.
			for _, v := range vals {
				if !blank(v) {
					return false
				}
			}
			return true
		}
		for _, v := range vals {
			if def.guid {
				if x, err := anchor.ParseGUID(v); err == nil && x == g {
					return true
				}
			} else if strings.EqualFold(v, want) {
				return true
			}
		}
		return false
	}
	if neg {
		m := match
		return func(r *lab.Recipient) bool { return !m(r) }, nil
	}
	return match, nil
}
