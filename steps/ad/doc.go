// Package ad provides rebind's Active Directory target and step types over
// LDAP (github.com/go-ldap/ldap/v3).
//
// The `ad` target connects with verified TLS: ldaps://, or StartTLS on
// ldap:// (start_tls defaults to true). A simple bind on a connection
// without TLS is refused unless the block says insecure = true, because the
// bind account can rewrite every anchor in the domain. The bind DN and
// password come from REBIND_AD_BIND_DN and REBIND_AD_PASSWORD (or the
// variables bind_dn_env and password_env name), a CA file from ca_file or
// REBIND_AD_CA_FILE. A rehearsal lab is bound as any DC is: its LDAPS url,
// base_dn and a ca_file holding its CA, its bind account in the variables.
//
// Data types:
//   - ad_user: one user by exactly one of upn, sam_account_name, dn or
//     object_guid. Its value: dn, object_guid, immutable_id (the base64
//     sourceAnchor Entra Connect derives: of mS-DS-ConsistencyGuid when set,
//     else of objectGUID), consistency_guid, upn, sam_account_name, mail,
//     proxy_addresses, mail_nickname, exchange_guid, archive_guid,
//     target_address, recipient_type_details, remote_recipient_type,
//     recipient_display_type, deleted.
//   - ad_users: every user an LDAP filter matches under search_base (default
//     the target's base_dn), read with paged search (RFC 2696, pages of 1000):
//     {users = [same objects]}.
//   - ad_deleted_user: a deleted user under CN=Deleted Objects, read with the
//     Show Deleted control (1.2.840.113556.1.4.417), by object_guid,
//     sam_account_name or upn (a tombstone has lost its UPN): dn,
//     object_guid, name, sam_account_name, upn, last_known_parent,
//     is_recycled, when_changed.
//
// Desired-state types:
//   - ad_attribute: one attribute of an object set to value (a string or a
//     list of strings) or guid (stored as 16 bytes in AD's byte order), or
//     cleared when both are null. Compared as a set, byte for byte; written
//     with one replace; reverted by writing the old bytes back (Reversible).
//   - ad_user_restored: a deleted user, named by object_guid or
//     sam_account_name (not by UPN, which a tombstone loses and a new user
//     may hold), reanimated with its objectGUID: one
//     Modify, sent with Show Deleted, that deletes isDeleted and replaces
//     distinguishedName with CN=<old name>,<ou or last known parent>. A
//     no-op when the user is live. Reverted by deleting it again
//     (Compensable: the new tombstone is not the old one).
//   - ad_remote_mailbox: the attributes of a remote mailbox (mailNickname,
//     targetAddress SMTP:alias@routing_domain, msExchRecipientTypeDetails
//     2147483648, msExchRemoteRecipientType 4 or 1 for new_mailbox,
//     msExchRecipientDisplayType -2147483642, the routing address among the
//     proxy addresses, msExchMailboxGuid and msExchArchiveGUID). Only the
//     attributes that differ are written, in one Modify; Revert writes
//     their old values back (Reversible). A user with a mailbox on premises
//     is refused. With exchange_shell it runs Exchange's cmdlets instead
//     (Enable-RemoteMailbox, Set-RemoteMailbox -ExchangeGuid/-ArchiveGuid,
//     see mailbox_cmdlets.go); Revert then writes every Exchange attribute
//     back over LDAP.
//
// Observations name objects "ad:<objectGUID>", which survives renames and
// moves. Every GUID goes through package anchor. LDAP failures become an
// *Error that keeps the result code (19 constraint violation, 68 entry
// exists, 8 strong auth required, 53 unwilling to perform, 32 no such
// object, 49 invalid credentials) and names the object and attribute; those
// retrying cannot fix are also steps.Permanent, and 32 is steps.ErrNotFound.
//
// go-ldap's calls take no context, so a cancelled run waits for the request
// in flight; every request is bounded by a 30-second timeout.
package ad
