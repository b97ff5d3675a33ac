#!/usr/bin/env bash
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
#
# t/pki.sh OUTDIR -- build a throwaway test PKI for mod_ota_enroll tests.
#
# Everything here is TEST MATERIAL ONLY: private keys are unencrypted and
# world-readable so that the httpd worker user (nobody) can read them.
#
# Produces, in OUTDIR:
#   Profile signing PKI (modern):  signing-root, signing-ca, signing,
#                                  signing-chain.pem (signing + signing-ca)
#   TLS server identity:           server, server-chain.pem (server + signing-ca)
#   delegated OCSP responder:      ocsp-responder (signed by signing-ca, OCSPSigning)
#   Apple-like device PKI (sha1, RSA-1024, expired intermediates, like the
#   real Apple iPhone chain):      apple-like-root, apple-like-iphone-ca,
#                                  apple-like-device-ca, device-ca-chain.pem,
#                                  device, device2, device-sha256,
#                                  device-bundle.pem
#   Hostile identities:            selfsigned-device, rogue-leaf,
#                                  rsa512-device, ourca-device,
#                                  weak-ourca-device, expired-ourca-device
# Each NAME above gives NAME.pem (certificate) and NAME.key (private key).
#
# Idempotent: exits at once if OUTDIR/.complete holds this script's
# PKI_VERSION (bump it when the set of files changes); that file is
# written last.  Past validity dates need "openssl ca" (-startdate), since
# "openssl x509" in OpenSSL 3.0 cannot set an arbitrary notBefore.

set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
OUT=$1
PKI_VERSION=3
[ "$(cat "$OUT/.complete" 2>/dev/null)" = "$PKI_VERSION" ] && exit 0

mkdir -p "$OUT"
chmod 755 "$OUT"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ota-pki.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Run a command quietly; on failure show its output and stop.
run() {
    if ! "$@" >"$WORK/log" 2>&1; then
        echo "pki.sh: command failed: $*" >&2
        cat "$WORK/log" >&2
        exit 1
    fi
}

# "openssl ca" wants dates as YYYYMMDDHHMMSSZ.
ts() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
NOW=$(ts '-1 hour')            # a little slack for clock skew
IN_2Y=$(ts '+730 days')
IN_10Y=$(ts '+3650 days')

# One config for "openssl req" and "openssl ca".  The CA database directory
# is chosen per issuer through $PKI_CADIR.
CNF=$WORK/openssl.cnf
cat >"$CNF" <<'EOF'
[ req ]
distinguished_name = req_dn
string_mask        = utf8only
[ req_dn ]

[ ca ]
default_ca = ca_test

[ ca_test ]
dir             = $ENV::PKI_CADIR
database        = $dir/index.txt
serial          = $dir/serial    # unused: -rand_serial, but must be set
new_certs_dir   = $dir
unique_subject  = no
copy_extensions = none
email_in_dn     = no
preserve        = yes
policy          = policy_anything

[ policy_anything ]
countryName            = optional
organizationName       = optional
organizationalUnitName = optional
commonName             = supplied

EOF

# ---- extension profiles ------------------------------------------------
# ext SECTION self|issued BASIC-CONSTRAINTS KEY-USAGE [EXT-KEY-USAGE [SAN]]:
#   an extension profile: both constraints critical, a subject key id, and
#   an authority key id unless the certificate is self-signed.
ext() {
    echo
    echo "[ $1 ]"
    echo "basicConstraints       = critical, $3"
    echo "keyUsage               = critical, $4"
    [ -z "${5:-}" ] || echo "extendedKeyUsage       = $5"
    [ -z "${6:-}" ] || echo "subjectAltName         = $6"
    echo "subjectKeyIdentifier   = hash"
    [ "$2" = self ] || echo "authorityKeyIdentifier = keyid:always"
}
CA_USAGE="keyCertSign, cRLSign"
TLS_USAGE="digitalSignature, keyEncipherment"
{
    ext ext_root self "CA:TRUE" "$CA_USAGE"
    ext ext_ca issued "CA:TRUE" "$CA_USAGE"
    ext ext_ca_pathlen0 issued "CA:TRUE, pathlen:0" "$CA_USAGE"
    ext ext_signer issued CA:FALSE digitalSignature "emailProtection, codeSigning"
    ext ext_server issued CA:FALSE "$TLS_USAGE" serverAuth "IP:127.0.0.1, DNS:localhost"
    # what an Apple device identity certificate carries
    ext ext_device issued CA:FALSE "$TLS_USAGE" "serverAuth, clientAuth"
    # a delegated OCSP responder of the built-in CA (RFC 6960 4.2.2.2)
    ext ext_ocsp issued CA:FALSE digitalSignature OCSPSigning
    ext ext_device_selfsigned self CA:FALSE "$TLS_USAGE" "serverAuth, clientAuth"
} >>"$CNF"
export OPENSSL_CONF=$CNF
export PKI_CADIR=$WORK   # set per issuer below; must exist for "req" too

# issue NAME ISSUER KEYBITS MD START END EXT SUBJECT
#   Make OUT/NAME.key (RSA-KEYBITS) and OUT/NAME.pem signed with MD by
#   ISSUER (OUT/ISSUER.pem + .key), or self-signed if ISSUER is "self".
#   START/END are YYYYMMDDHHMMSSZ; EXT is an ext_* section above;
#   SUBJECT is in "openssl req -subj" form.
issue() {
    local name=$1 issuer=$2 bits=$3 md=$4 start=$5 end=$6 ext=$7 subj=$8
    local key=$OUT/$name.key csr=$WORK/$name.csr
    local -a signer

    run openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$bits" \
        -out "$key"
    run openssl req -new -key "$key" -subj "$subj" -out "$csr"

    if [ "$issuer" = self ]; then
        # The new certificate's own database; it issues from it later.
        export PKI_CADIR=$WORK/db/$name
        signer=(-selfsign -keyfile "$key")
    else
        export PKI_CADIR=$WORK/db/$issuer
        signer=(-cert "$OUT/$issuer.pem" -keyfile "$OUT/$issuer.key")
    fi
    mkdir -p "$PKI_CADIR"
    touch "$PKI_CADIR/index.txt"

    run openssl ca -batch -notext -preserveDN -rand_serial \
        "${signer[@]}" -md "$md" -startdate "$start" -enddate "$end" \
        -extensions "$ext" -in "$csr" -out "$OUT/$name.pem"
}

# bundle OUTFILE FILE... : concatenate certificates from OUT.
bundle() {
    local dest=$OUT/$1
    shift
    (cd "$OUT" && cat "$@") >"$dest"
}

T="/O=mod_ota_enroll test"
UDID=6A1B2C3D-0000-4000-8000-00000000

# ---- 1. profile signing PKI (strict, modern) ---------------------------
issue signing-root self 2048 sha256 "$NOW" "$IN_10Y" ext_root \
    "$T/CN=OTA Test Signing Root"
issue signing-ca signing-root 2048 sha256 "$NOW" "$IN_10Y" ext_ca_pathlen0 \
    "$T/CN=OTA Test Signing CA"
issue signing signing-ca 2048 sha256 "$NOW" "$IN_2Y" ext_signer \
    "/CN=OTA Test Profile Signer"
bundle signing-chain.pem signing.pem signing-ca.pem

# ---- 2. TLS server identity --------------------------------------------
issue server signing-ca 2048 sha256 "$NOW" "$IN_2Y" ext_server \
    "/CN=127.0.0.1"
bundle server-chain.pem server.pem signing-ca.pem
issue ocsp-responder signing-ca 2048 sha256 "$NOW" "$IN_2Y" ext_ocsp \
    "/CN=OCSP responder"

# ---- 3. Apple-like device PKI: sha1, RSA-1024, expired CAs -------------
issue apple-like-root self 2048 sha1 \
    20060425000000Z 20350209000000Z ext_root \
    "$T/CN=Apple-like Test Root CA"
issue apple-like-iphone-ca apple-like-root 2048 sha1 \
    20070412000000Z 20220412000000Z ext_ca \
    "/CN=Apple-like iPhone Certification Authority"
issue apple-like-device-ca apple-like-iphone-ca 1024 sha1 \
    20070416000000Z 20140416000000Z ext_ca \
    "/CN=Apple-like iPhone Device CA"
bundle device-ca-chain.pem \
    apple-like-device-ca.pem apple-like-iphone-ca.pem apple-like-root.pem

# device identities outlive their (expired) issuer, as real ones do
device() { # device NAME ISSUER KEYBITS MD CN-SUFFIX
    issue "$1" "$2" "$3" "$4" 20221022000000Z 20321022000000Z ext_device \
        "/CN=$UDID$5"
}
device device        apple-like-device-ca 1024 sha1   D001
device device2       apple-like-device-ca 1024 sha1   D002
device device-sha256 apple-like-device-ca 1024 sha256 D003
bundle device-bundle.pem device.pem \
    apple-like-device-ca.pem apple-like-iphone-ca.pem apple-like-root.pem

# ---- 4. hostile identities ---------------------------------------------
issue selfsigned-device self 1024 sha1 \
    20221022000000Z 20321022000000Z ext_device_selfsigned "/CN=${UDID}D0FF"
# chains to the root, but skips the device CA
device rogue-leaf    apple-like-iphone-ca 1024 sha1 D0EE
device rsa512-device apple-like-device-ca 512  sha1 D512
# issued by our own signing CA instead of the Apple-like one
issue ourca-device signing-ca 2048 sha256 "$NOW" "$IN_2Y" ext_device \
    "/CN=${UDID}D0CA"
issue weak-ourca-device signing-ca 1024 sha1 \
    20100101000000Z 20120101000000Z ext_device "/CN=${UDID}D0WK"
# modern but expired: only time refuses it
issue expired-ourca-device signing-ca 2048 sha256 \
    20200101000000Z 20210101000000Z ext_device "/CN=${UDID}D0EX"

chmod 644 "$OUT"/*.pem "$OUT"/*.key
echo "$PKI_VERSION" >"$OUT/.complete"
chmod 644 "$OUT/.complete"
