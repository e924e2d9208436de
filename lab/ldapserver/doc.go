// Package ldapserver serves the lab tenant's Active Directory over LDAP v3
// (github.com/jimlambrt/gldap), so that the AD step types run unchanged
// against the lab and against a real domain controller, and so that
// ldapsearch and ldapmodify from ldap-utils can look at the lab.
//
// It answers the way Active Directory does, with AD's result codes and the
// start of AD's diagnostic texts:
//
//   - simple bind with the lab's administrator (49 invalidCredentials
//     otherwise; 8 strongAuthRequired without TLS when
//     Options.RequireTLSForSimpleBind is set); every operation but reading
//     the rootDSE needs a bind (1 operationsError, as AD says "000004DC");
//   - StartTLS on the plain endpoint and LDAPS on the TLS endpoint, with a
//     certificate made at start whose CA is CAPEM;
//   - search with base, one-level and subtree scope, the filters AD clients
//     send (and, or, not, equality, presence, substrings, >=, <=, AD's
//     bitwise matching rules), attribute selection ("*", "1.1", names in
//     any case), binary attributes as raw bytes in AD's GUID layout,
//     "<GUID=...>" as a base DN, the rootDSE, the paged results control
//     (RFC 2696, at most MaxPageSize entries a page; an unpaged search that
//     matches more returns MaxPageSize entries and 4 sizeLimitExceeded) and
//     the Show Deleted control, without which objects under
//     CN=Deleted Objects do not exist;
//   - add (68 entryAlreadyExists on a taken DN or sAMAccountName, 19
//     constraintViolation on a duplicate userPrincipalName), modify
//     (replace, add and delete of values; reanimation as one Modify that
//     deletes isDeleted and replaces distinguishedName, sent with Show
//     Deleted), delete (to CN=Deleted Objects, as a tombstone unless the
//     tenant has the AD Recycle Bin), 32 noSuchObject and 53
//     unwillingToPerform where AD answers so.
//
// Simple binds without TLS are allowed by default, unlike on a hardened
// domain controller, so that `ldapsearch -x -H ldap://127.0.0.1:PORT` works
// on loopback; set Options.RequireTLSForSimpleBind to rehearse against a DC
// that refuses them.
//
// DNs are matched case- and space-insensitively, as AD does, and
// "<GUID=...>" is accepted wherever a DN is.
//
// The lab models user objects only: containers and OUs are implied by the
// users' DNs and cannot be added (53), a search below a container with no
// users finds nothing rather than 32, and the domain head and
// CN=Deleted Objects are made up for searches. gldap v0.1.14 cannot decode
// SASL binds, ModifyDN (rename), Compare or Abandon requests: the connection
// that sends one ends with a Notice of Disconnection; other connections are
// unaffected.
//
// A front end before gldap terminates TLS, reads every message whole and
// applies AD's LDAP policies (MaxReceiveBuffer, InitRecvTimeout,
// MaxConnIdleTime, MaxConnections, MaxPoolThreads, with AD's defaults), so
// that no client, however abusive, can crash, hang or exhaust the server:
// see frontend.go and the README.
package ldapserver
