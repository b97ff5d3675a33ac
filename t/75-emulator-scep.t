#!/bin/bash
# The emulator's SCEP: `ota-device scep` against the built-in CA (ota-scep),
# and `ota-device enroll` through phases 1, 2 and the PKIOperation, against
# the built-in CA (dynamic challenge) and micromdm's scepserver.
. "$(dirname "$0")/lib.sh"
t_setup

scepserver_start
ok $? "micromdm scepserver runs as the external CA"
T_PORT_FIXED=$(free_port)
base=http://127.0.0.1:$T_PORT_FIXED
# /ota: the built-in CA, dynamic challenge; /static/scep: the same CA with
# a static one; /ext: micromdm's scepserver.
apache_start scep "$(site_locations auth=none subject="O=Example Inc./OU=%{PRODUCT}/CN=%{UDID}" \
    challenge=dynamic enroll_extra="OTAEnrollGetCACaps auto")
<Location /static/scep>
    SetHandler ota-scep
    OTAEnrollSCEPChallenge static-secret
</Location>
$(site_locations prefix=/ext auth=none scep=off scep_url="$SCEP_URL" subject= challenge=scep-secret \
    enroll_extra="OTAEnrollGetCACaps auto")"
ok $? "apache2 starts"

w=$T_WORK/scep-out
mkdir -p "$w"
chain=$T_WORK/ca-chain.pem
cat "$PKI/signing-ca.pem" "$PKI/signing-root.pem" >"$chain"
scep() {   # scep ARGS: the scep command against the static CA; $S_OUT, $S_RC
    S_OUT=$("$OTA_DEVICE" scep --url "$base/static/scep" --timeout 10 "$@" 2>&1)
    S_RC=$?
}
issued() {   # issued SUBJECT-TEXT: certificates recorded for it
    db_count "select count(*) from ota_certificate where subject = '$1'"
}
verify() {   # verify NAME CERT: chains to our CA, for TLS clients
    check "$1" openssl verify -CAfile "$chain" -purpose sslclient "$2"
}
same_key() {   # same_key CERT KEY
    [ "$(openssl x509 -in "$1" -noout -pubkey 2>/dev/null)" = "$(openssl pkey -in "$2" -pubout 2>/dev/null)" ] && [ -s "$1" ]
}

# ---- scep: GetCACaps, GetCACert ----
scep --operation GetCACaps
is "$S_RC" 0 "GetCACaps answers"
like "$S_OUT" '^POSTPKIOperation$' "one capability a line: POSTPKIOperation"
like "$S_OUT" '^SCEPStandard$' "... SCEPStandard"
scep --operation GetCACert --out-cert "$w/ca.pem"
is "$S_RC" 0 "GetCACert answers"
has "$S_OUT" "subject: CN=OTA Test Signing CA,O=mod_ota_enroll test (CA)" "with the CA's subject"
is "$(openssl x509 -in "$w/ca.pem" -noout -fingerprint)" \
   "$(openssl x509 -in "$PKI/signing-ca.pem" -noout -fingerprint)" "--out-cert keeps it"

# ---- scep: PKCSReq with the static challenge ----
scep --subject "/O=Example/CN=scep-1" --challenge static-secret \
     --out-cert "$w/c1.pem" --out-key "$w/k1.pem" --save-request "$w/r1.der"
is "$S_RC" 0 "PKCSReq by POST: exit 0"
has "$S_OUT" "-> PKIOperation (POST, SHA256, AES-256-CBC)" "POST, SHA-256, AES-256 by default"
has "$S_OUT" "<- HTTP 200 application/x-pki-message" "a pki-message comes back"
has "$S_OUT" "status: SUCCESS" "SUCCESS"
has "$S_OUT" "subject: CN=scep-1,O=Example" "for the subject asked"
like "$S_OUT" 'serial: [0-9A-F]+' "with its serial"
verify "the certificate chains to the CA, purpose sslclient" "$w/c1.pem"
same_key "$w/c1.pem" "$w/k1.pem"
ok $? "and certifies the key kept by --out-key"
is "$(stat -c %a "$w/k1.pem")" 600 "the key file is private"

scep --subject "/O=Example/CN=scep-1" --challenge static-secret --key "$w/k1.pem"
is "$S_RC" 6 "the same transaction again: exit 6"
has "$S_OUT" "status: FAILURE" "FAILURE"
has "$S_OUT" "failInfo: badRequest" "badRequest"
scep --send "$w/r1.der" --key "$w/k1.pem"
is "$S_RC" 6 "the same request bytes again (--send): FAILURE read, exit 6"
is "$(issued 'CN=scep-1,O=Example')" 1 "one certificate only for that transaction"

scep --subject "/O=Example/CN=scep-bad" --challenge wrong-secret
is "$S_RC" 6 "a wrong challenge: exit 6"
has "$S_OUT" "failInfo: badRequest" "badRequest"
is "$(issued 'CN=scep-bad,O=Example')" 0 "and no certificate"

scep --method get --subject "/O=Example/CN=scep-get" --challenge static-secret \
     --out-cert "$w/cg.pem"
is "$S_RC" 0 "PKCSReq by GET (base64 message=, percent-encoded): exit 0"
has "$S_OUT" "-> PKIOperation (GET, SHA256, AES-256-CBC)" "sent by GET"
verify "its certificate chains to the CA" "$w/cg.pem"

scep --type renewal --signer-cert "$w/c1.pem" --signer-key "$w/k1.pem" \
     --out-cert "$w/c1r.pem" --out-key "$w/k1r.pem"
is "$S_RC" 0 "RenewalReq signed by the issued certificate: exit 0"
has "$S_OUT" "RenewalReq, transactionID" "a RenewalReq"
has "$S_OUT" "subject: CN=scep-1,O=Example" "for the same subject"
verify "the renewed certificate chains to the CA" "$w/c1r.pem"
same_key "$w/c1r.pem" "$w/k1r.pem"
ok $? "and certifies the new key"

# ---- scep: what the CA refuses ----
openssl genrsa -out "$w/other.key" 2048 2>/dev/null
scep --subject "/O=Example/CN=scep-pop" --challenge static-secret --csr-key "$w/other.key"
is "$S_RC" 6 "a CSR for another key than the signer's: exit 6"
is "$(issued 'CN=scep-pop,O=Example')" 0 "and no certificate"
for alg in "--digest md5" "--cipher des3" "--cipher des" "--digest sha1"; do
    scep --subject "/O=Example/CN=scep-alg" --challenge static-secret $alg
    is "$S_RC" 6 "$alg (not among the capabilities): exit 6"
    has "$S_OUT" "failInfo: badAlg" "$alg: badAlg"
done
is "$(issued 'CN=scep-alg,O=Example')" 0 "no certificate for a refused algorithm"
head -c 500 /dev/urandom >"$w/noise"
scep --send "$w/noise"
is "$S_RC" 5 "random bytes as the PKIOperation: HTTP error, exit 5"
like "$S_OUT" 'PKIOperation not answered \(HTTP 400\)' "HTTP 400"

# ---- enroll against the built-in CA, dynamic challenge ----
enroll() {   # enroll PREFIX OS DEVICE [ARGS]: $E_OUT, $E_RC
    local prefix=$1 os=$2 dev=$3
    shift 3
    # these servers have no final profile: stop after SCEP
    case " $* " in *" --stop-after "*) ;; *) set -- --stop-after scep "$@" ;; esac
    E_OUT=$("$OTA_DEVICE" enroll --url "$base/$prefix/profile" --trust "$PKI/signing-root.pem" \
            --identity "$PKI/$dev.pem" --key "$PKI/$dev.key" --chain "$PKI/device-ca-chain.pem" \
            --emulate "$os" --timeout 5 --save-dir "$T_WORK/$prefix-$os-$dev" "$@" 2>&1)
    E_RC=$?
    [ "$E_RC" -eq 0 ] || printf '%s\n' "$E_OUT" | tail -4 | sed 's/^/#   /'
}
# OTAEnrollGetCACaps auto learns the list in the background: wait for it.
for _ in $(seq 1 30); do
    enroll ota current device --stop-after phase2
    printf '%s' "$E_OUT" | grep -q 'GetCACaps: .*SCEPStandard' && break
    sleep 0.2
done
is "$E_RC" 0 "--stop-after phase2: exit 0"
has "$E_OUT" "RESULT: ready for SCEP" "--stop-after phase2: ready for SCEP"
unlike "$E_OUT" '-> PKIOperation' "--stop-after phase2 sends no PKIOperation"

for os in ios4 current; do
    enroll ota $os device
    is "$E_RC" 0 "$os enrolls with the built-in CA"
    has "$E_OUT" "GetCACaps: from the payload, not asked" "$os: GetCACaps from the payload"
    has "$E_OUT" "-> PKIOperation (POST, SHA256, AES-256-CBC)" "$os: POST, SHA-256, AES-256"
    has "$E_OUT" "CAFingerprint: matches" "$os: the CA matches CAFingerprint"
    has "$E_OUT" "RESULT: enrolled" "$os: RESULT: enrolled"
    d=$T_WORK/ota-$os-device
    c=$(tr -d '\n\t' <"$d/phase2.plist" | sed -n 's/.*<key>Challenge<\/key><string>\([^<]*\)<.*/\1/p')
    [ -n "$c" ] && ! printf '%s' "$E_OUT" | grep -Fq -- "$c"
    ok $? "$os: the one-time SCEP challenge is never printed"
    verify "$os: device-cert.pem chains to the CA" "$d/device-cert.pem"
    same_key "$d/device-cert.pem" "$d/device-key.pem"
    ok $? "$os: device-key.pem is its key"
    like "$(openssl x509 -in "$d/device-cert.pem" -noout -subject -nameopt RFC2253)" \
        'subject=CN=6A1B2C3D-0000-4000-8000-00000000D001,OU=iPhone[0-9]+\\,[0-9]+,O=Example Inc\.' \
        "$os: the payload's Subject, in order"
done
"$OTA_DEVICE" scep --url "$base/ota/scep" --send "$T_WORK/ota-ios4-device/scep-request.der" \
    --key "$T_WORK/ota-ios4-device/device-key.pem" >/dev/null 2>&1
is "$?" 6 "the enrollment's PKCSReq again: FAILURE"

# ---- enroll against micromdm's scepserver (SHA-1, single DES replies) ----
enroll ext ios4 device --scep-legacy
is "$E_RC" 0 "ios4 enrolls with scepserver (--scep-legacy)"
has "$E_OUT" "CertRep: signed with SHA1, enciphered with DES-CBC" "scepserver answers SHA-1 and DES"
has "$E_OUT" "RESULT: enrolled" "RESULT: enrolled"
check "the certificate chains to scepserver's CA" \
    openssl verify -CAfile "$SCEP_CA" "$T_WORK/ext-ios4-device/device-cert.pem"
enroll ext current device2
is "$E_RC" 5 "without --scep-legacy the SHA-1 CertRep is refused: exit 5"
has "$E_OUT" "digest SHA1 not allowed" "and says why"

apache_stop
log_clean OTA00063 OTA00064 OTA00065 OTA00066 OTA00067 OTA00072
done_testing
