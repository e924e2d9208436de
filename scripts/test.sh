#!/usr/bin/env bash
# The test suite, as the README and CI run it. On a fresh Debian machine, as
# root, it first installs what the tests need: Samba's AD DC and ldap-utils
# for the real-AD tests, Chromium for the plan page check, OpenSSH's
# ssh-keygen for approval interop. Outside CI a test whose tool is missing
# skips with its reason; in CI (CI=true) it fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."

# The packages, installed without their Recommends. The list was checked on
# Debian 12 with `apt-cache depends` and `apt-get install -s
# --no-install-recommends` against a system holding only the required
# packages:
#   samba-ad-dc         the samba daemon; samba-tool comes through its
#                       dependency samba-common-bin.
#   samba-ad-provision  the schema and templates `samba-tool domain
#                       provision` reads. samba-ad-dc only Recommends it, so
#                       without it provisioning the test DC fails ("Please
#                       install samba-ad-provision package").
#   ldap-utils          ldapsearch, ldapadd, ldapmodify.
#   chromium            the HTML plan check; run with --no-sandbox, so its
#                       Recommends (chromium-sandbox, fonts-liberation) are
#                       not needed: fonts-dejavu-core comes through
#                       fontconfig-config, a dependency.
#   openssh-client      ssh-keygen.
#   postgresql          PostgreSQL for the shared-journal tests: its
#                       dependency postgresql-<version> puts initdb and
#                       pg_ctl in /usr/lib/postgresql/<version>/bin (not on
#                       PATH; the tests look there), and postgresql-common
#                       creates the postgres user the tests run the server
#                       as when they run as root. Its Recommends are not
#                       needed. Installing it also creates Debian's default
#                       cluster; the tests start their own on free ports.
packages=(samba-ad-dc samba-ad-provision ldap-utils chromium openssh-client postgresql)
need=()
if command -v dpkg-query >/dev/null; then
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -qx 'install ok installed' || need+=("$p")
  done
else
  command -v samba-tool >/dev/null || need+=(samba-ad-dc samba-ad-provision)
  command -v ldapsearch >/dev/null || need+=(ldap-utils)
  command -v chromium >/dev/null || need+=(chromium)
  command -v ssh-keygen >/dev/null || need+=(openssh-client)
  command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "== missing ${need[*]}; the tests that need them will skip (run as root to install)"
  fi
fi

echo "== go.mod and go.sum tidy"
# go mod tidy -diff prints what tidy would change and exits non-zero,
# without writing (https://go.dev/ref/mod#go-mod-tidy).
if ! go mod tidy -diff; then
  echo "go.mod or go.sum is not tidy: run 'go mod tidy' and commit the result"; exit 1
fi

echo "== gofmt and go vet"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "not gofmt-formatted:"; echo "$unformatted"; exit 1
fi
go vet ./...

echo "== go test"
go test -count=1 -timeout 40m ./...

echo "== race detector over the concurrent parts (fan-out, journal, lab servers)"
go test -race -count=1 ./engine/... ./lab/... ./steps/core/

echo "== fuzz (bounded)"
fuzz() { go test -run '^$' -fuzz "^$1\$" -fuzztime "${FUZZTIME:-15s}" "$2"; }
fuzz FuzzLoadSources ./engine/runbook/
fuzz FuzzAnchorFunctions ./engine/lang/
fuzz FuzzImmutableID ./anchor/
fuzz FuzzParseGUID ./anchor/
fuzz FuzzVerifySignature ./engine/plan/
fuzz FuzzParseAllowedSigners ./engine/plan/
fuzz FuzzFrame ./lab/ldapserver/
fuzz FuzzWriteDiagnostics ./termtext/
echo "== all tests passed"
