#!/bin/sh
# make-certs.sh - regenerate the test certificates in this directory.
#
# Needs certtool (Debian package gnutls-bin).  Run from anywhere:
#   sh tests/data/tls/make-certs.sh
# The output is committed so that tests do not need certtool; rerun only to
# change the set or before 2045, when the 20-year certificates expire.
#
#   ca.pem / ca-key.pem                  private test CA ("postdesk test CA")
#   server.pem / server-key.pem          signed by the CA for 127.0.0.1, ::1 and localhost
#   server-chain.pem                     server.pem followed by ca.pem (for servers)
#   wrongname.pem / wrongname-key.pem    signed by the CA for wrong.example.com only
#   expired.pem / expired-key.pem        signed by the CA, valid 2001-01-01..2002-01-01
#   selfsigned.pem / selfsigned-key.pem  self-signed for 127.0.0.1 and localhost
set -eu

dir=$(cd "$(dirname "$0")" && pwd)
cd "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

days=7300 # 20 years

key() {
	certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$1" 2>/dev/null
}

cat > "$tmp/ca.tmpl" <<TMPL
cn = "postdesk test CA"
organization = "postdesk tests"
serial = 1
expiration_days = $days
ca
cert_signing_key
crl_signing_key
TMPL

cat > "$tmp/server.tmpl" <<TMPL
cn = "localhost"
organization = "postdesk tests"
serial = 2
expiration_days = $days
dns_name = "localhost"
ip_address = "127.0.0.1"
ip_address = "::1"
tls_www_server
signing_key
encryption_key
TMPL

cat > "$tmp/wrongname.tmpl" <<TMPL
cn = "wrong.example.com"
organization = "postdesk tests"
serial = 3
expiration_days = $days
dns_name = "wrong.example.com"
tls_www_server
signing_key
encryption_key
TMPL

cat > "$tmp/expired.tmpl" <<TMPL
cn = "localhost"
organization = "postdesk tests"
serial = 4
activation_date = "2001-01-01 00:00:00"
expiration_date = "2002-01-01 00:00:00"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
signing_key
encryption_key
TMPL

cat > "$tmp/selfsigned.tmpl" <<TMPL
cn = "localhost"
organization = "postdesk tests (self-signed)"
serial = 5
expiration_days = $days
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
signing_key
encryption_key
TMPL

key ca-key.pem
certtool --generate-self-signed --load-privkey ca-key.pem --template "$tmp/ca.tmpl" \
	--outfile ca.pem 2>/dev/null

for name in server wrongname expired; do
	key "$name-key.pem"
	certtool --generate-certificate --load-privkey "$name-key.pem" \
		--load-ca-certificate ca.pem --load-ca-privkey ca-key.pem \
		--template "$tmp/$name.tmpl" --outfile "$name.pem" 2>/dev/null
done

key selfsigned-key.pem
certtool --generate-self-signed --load-privkey selfsigned-key.pem \
	--template "$tmp/selfsigned.tmpl" --outfile selfsigned.pem 2>/dev/null

cat server.pem ca.pem > server-chain.pem
# Dovecot and the tests run as other users: keys are test-only, readable by all.
chmod 644 ./*.pem
echo "certificates written to $dir"
