#!/bin/bash
# Revocation that relying parties honour. Two devices enroll against the
# built-in CA; mod_ssl (a second apache2 with SSLVerifyClient require)
# accepts both, once checking with OCSP (ota-ocsp), once with the CRL
# (ota-crl); the admin's revoke action takes one back, and mod_ssl, openssl
# ocsp, openssl crl and openssl verify -crl_check refuse it while the other
# keeps working. Then every way to get the action or the responder wrong.
. "$(dirname "$0")/lib.sh"
t_setup

profile=$T_TOP/t/fixtures/profiles/configuration.mobileconfig
T_PORT_FIXED=$(free_port)
base=http://127.0.0.1:$T_PORT_FIXED
apache_start ca "AllowEncodedSlashes NoDecode
$(site_locations final="$profile" status=on crl=on ocsp=on scep_extra="
OTAEnrollCRLURL $base/ota/crl
OTAEnrollOCSPURL $base/ota/ocsp" crl_extra="OTAEnrollCRLLifetime 3600")
<Location /other/ocsp>
    SetHandler ota-ocsp
    OTAEnrollCACertificate \"$PKI/signing-root.pem\"
    OTAEnrollCAKey \"$PKI/signing-root.key\"
</Location>"
ok $? "apache2 starts with ota-crl, ota-ocsp and the status page"
CA_CONF=$T_CONF CA_LOG=$T_LOG CA_DB=$T_DB
unset T_PORT_FIXED

enroll() {   # enroll NAME USER IDENTITY: the emulator, identity in $T_WORK/NAME
    device_enroll "$1" "$base/ota/profile" "$2" "$3"
}
enroll_pair "$base/ota/profile"
a_serial=$(cert_serial alice) b_serial=$(cert_serial bob)
x=$(openssl x509 -in "$T_WORK/alice/device-cert.pem" -noout -text)
has "$x" "URI:$base/ota/crl" "the certificate names the CRL (OTAEnrollCRLURL)"
has "$x" "OCSP - URI:$base/ota/ocsp" "and the OCSP responder (OTAEnrollOCSPURL)"
cat "$PKI/signing-ca.pem" "$PKI/signing-root.pem" >"$T_WORK/ca-chain.pem"

# ---- openssl ocsp against ota-ocsp ----
ocsp() {   # ocsp NAME [ARGS]: openssl ocsp for NAME's certificate
    local name=$1
    shift
    openssl ocsp -url "$base/ota/ocsp" -issuer "$PKI/signing-ca.pem" \
        -cert "$T_WORK/$name/device-cert.pem" -CAfile "$T_WORK/ca-chain.pem" "$@" 2>&1
}
out=$(ocsp alice)
has "$out" "Response verify OK" "openssl ocsp: Response verify OK"
has "$out" "device-cert.pem: good" "alice's certificate is good"
has "$(ocsp alice -no_nonce)" "device-cert.pem: good" "without a nonce: good"
has "$(ocsp alice -no_nonce)" "Response verify OK" "asked again (the answer reused): verified"
like "$(openssl ocsp -url "$base/ota/ocsp" -sha256 -issuer "$PKI/signing-ca.pem" \
        -cert "$T_WORK/alice/device-cert.pem" -CAfile "$T_WORK/ca-chain.pem" 2>&1)" \
    "device-cert.pem: good" "asked with a SHA-256 CertID too"

# ---- mod_ssl, a relying party ----
rp_start() {   # rp_start NAME REVOCATION-CONFIG
    T_SSL=1 apache_start "$1" "SSLVerifyClient require
SSLVerifyDepth 3
SSLCACertificateFile \"$T_WORK/ca-chain.pem\"
$2" || return 1
    echo hello >"$(dirname "$T_CONF")/htdocs/index.html"
}
rp_get() {   # rp_get NAME: HTTP status of a GET with NAME's certificate (000: refused)
    curl -s -o /dev/null -w '%{http_code}' --cacert "$PKI/signing-root.pem" \
        --cert "$T_WORK/$1/device-cert.pem" --key "$T_WORK/$1/device-key.pem" "$T_BASE/index.html"
}
rp_start rp-ocsp "SSLOCSPEnable leaf
SSLOCSPDefaultResponder $base/ota/ocsp
SSLOCSPOverrideResponder on"
ok $? "a relying party starts: mod_ssl asking ota-ocsp"
RP_OCSP_CONF=$T_CONF RP_OCSP_BASE=$T_BASE RP_OCSP_LOG=$T_LOG
is "$(rp_get alice)" 200 "mod_ssl (OCSP) accepts alice's device"
is "$(rp_get bob)" 200 "and bob's"
curl -s -o "$T_WORK/crl1.der" -w '%{content_type}' "$base/ota/crl" >"$T_WORK/crl1.type"
is "$(cat "$T_WORK/crl1.type")" application/pkix-crl "ota-crl answers application/pkix-crl"
openssl crl -inform DER -in "$T_WORK/crl1.der" -out "$T_WORK/crl.pem" 2>/dev/null
rp_start rp-crl "SSLCARevocationFile \"$T_WORK/crl.pem\"
SSLCARevocationCheck leaf"
ok $? "a second relying party starts: mod_ssl with the fetched CRL"
RP_CRL_CONF=$T_CONF
is "$(rp_get alice)" 200 "mod_ssl (CRL) accepts alice's device"

# ---- the revoke action ----
T_BASE=$base
ca_logs() { T_LOG=$CA_LOG T_DB=$CA_DB; }
action() {   # action JSON [CURL-ARGS]: POST; $A_STATUS, $A_BODY
    local json=$1
    shift
    A_STATUS=$(curl -s -o "$T_WORK/action.out" -w '%{http_code}' -u alice:secret \
        -H 'Content-Type: application/json' --data-binary "$json" "$@" "$base/ota/status")
    A_BODY=$(cat "$T_WORK/action.out")
}
lower=$(echo "$a_serial" | tr A-F a-f)
action "{\"action\": \"revoke\", \"serial\": \"$lower\", \"reason\": \"keyCompromise\"}"
is "$A_STATUS" 200 "alice revokes her device's certificate (serial in lower case)"
is "$A_BODY" "{\"revoked\":[\"$a_serial\"]}" "the answer lists it"
like "$(grep OTA00110 "$CA_LOG" | tail -1)" "certificate $a_serial revoked \\(keyCompromise\\) by alice from 127.0.0.1" \
    "logged with the admin, serial, reason and address"
out=$(ocsp alice)
has "$out" "device-cert.pem: revoked" "openssl ocsp: revoked, at once"
has "$out" "Reason: keyCompromise" "with its reason"
has "$out" "Response verify OK" "signed by the CA"
has "$(ocsp alice -no_nonce)" "device-cert.pem: revoked" \
    "without a nonce too: a kept answer is never reused after the status changed"
has "$(ocsp bob)" "device-cert.pem: good" "bob's stays good"
T_BASE=$RP_OCSP_BASE
is "$(rp_get alice)" 000 "mod_ssl (OCSP) now refuses alice's device"
is "$(rp_get bob)" 200 "and still accepts bob's"
like "$(cat "$RP_OCSP_LOG")" "revoked" "mod_ssl's log says why"

curl -s -o "$T_WORK/crl2.der" "$base/ota/crl"
openssl crl -inform DER -in "$T_WORK/crl2.der" -out "$T_WORK/crl.pem" 2>/dev/null
has "$(openssl crl -in "$T_WORK/crl.pem" -CAfile "$T_WORK/ca-chain.pem" -noout 2>&1)" "verify OK" \
    "openssl crl -CAfile: the new CRL verifies"
t=$(openssl crl -in "$T_WORK/crl.pem" -noout -text)
has "$t" "Serial Number: $a_serial" "it lists alice's certificate"
has "$t" "Key Compromise" "with its reason"
unlike "$t" "Serial Number: $b_serial" "not bob's"
n1=$(openssl crl -inform DER -in "$T_WORK/crl1.der" -noout -crlnumber | sed 's/.*=//')
n2=$(openssl crl -in "$T_WORK/crl.pem" -noout -crlnumber | sed 's/.*=//')
[ $((n2)) -gt $((n1)) ]
ok $? "a higher CRL number ($n1 -> $n2)"
like "$(openssl verify -crl_check -CAfile "$PKI/signing-root.pem" -untrusted "$PKI/signing-ca.pem" \
        -CRLfile "$T_WORK/crl.pem" "$T_WORK/alice/device-cert.pem" 2>&1)" "certificate revoked" \
    "openssl verify -crl_check: revoked"
apache2 -d "$(dirname "$RP_CRL_CONF")" -f "$RP_CRL_CONF" -k graceful
sleep 1
T_CONF=$RP_CRL_CONF
T_BASE=https://127.0.0.1:$(sed -n 's/^Listen 127.0.0.1://p' "$RP_CRL_CONF")
is "$(rp_get alice)" 000 "mod_ssl (CRL), reloaded with it, refuses alice's device"
is "$(rp_get bob)" 200 "and still accepts bob's"
curl -s -o "$T_WORK/crl3.der" "$base/ota/crl"
cmp -s "$T_WORK/crl2.der" "$T_WORK/crl3.der"
ok $? "the CRL is served from the store, not rebuilt per request"

# ---- what the action refuses ----
T_BASE=$base
ca_logs
before=$(db_count "select count(*) from ota_certificate where revoked is not null")
action "{\"action\": \"revoke\", \"serial\": \"$a_serial\"}"
is "$A_STATUS" 200 "revoking it again: 200"
is "$A_BODY" '{"revoked":[]}' "nothing more revoked"
is "$(db_count "select revoked_reason from ota_certificate where serial = '$a_serial'")" 1 \
    "its reason stays keyCompromise"
refuse_action() {   # refuse_action NAME STATUS ID JSON [CURL-ARGS]
    local name=$1 want=$2 id=$3 json=$4 n0
    shift 4
    n0=$(log_count "$id")
    action "$json" "$@"
    is "$A_STATUS" "$want" "$name: $want"
    is "$(( $(log_count "$id") - n0 ))" 1 "$name: one $id line"
}
refuse_action "an unknown serial" 404 OTA00113 '{"action":"revoke","serial":"0BADC0DE"}'
refuse_action "an unknown device" 404 OTA00113 '{"action":"revoke","udid":"NO-SUCH-DEVICE"}'
refuse_action "malformed JSON" 400 OTA00112 '{"action":"revoke",'
refuse_action "an unknown reason" 400 OTA00112 "{\"action\":\"revoke\",\"serial\":\"$b_serial\",\"reason\":\"cACompromise\"}"
refuse_action "an unknown action" 400 OTA00112 '{"action":"reboot","udid":"X"}'
refuse_action "serial and udid together" 400 OTA00112 "{\"action\":\"revoke\",\"serial\":\"$b_serial\",\"udid\":\"X\"}"
refuse_action "a form without the page's token" 403 OTA00111 "action=revoke&serial=$b_serial" \
    -H 'Content-Type: application/x-www-form-urlencoded'
refuse_action "a form with a forged token" 403 OTA00111 "action=revoke&serial=$b_serial&csrf=00ff" \
    -H 'Content-Type: application/x-www-form-urlencoded'
refuse_action "text/plain (what a cross-site form may send)" 403 OTA00111 \
    "{\"action\":\"revoke\",\"serial\":\"$b_serial\"}" -H 'Content-Type: text/plain'
is "$(db_count "select count(*) from ota_certificate where revoked is not null")" "$before" \
    "nothing was revoked by any of them"
is "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
      --data-binary "{\"action\":\"revoke\",\"serial\":\"$b_serial\"}" "$base/ota/status")" 401 \
    "without credentials: 401 (Apache's)"

# ---- a re-enrolled device: its older certificate is superseded ----
enroll alice2 alice device
ok $? "alice's device enrolls again"
out=$(openssl ocsp -url "$base/ota/ocsp" -issuer "$PKI/signing-ca.pem" -CAfile "$T_WORK/ca-chain.pem" \
      -cert "$T_WORK/alice/device-cert.pem" -cert "$T_WORK/alice2/device-cert.pem" 2>&1)
like "$out" "alice/device-cert.pem: revoked" "the first certificate stays revoked"
like "$out" "alice2/device-cert.pem: good" "the new one is good"
enroll bob2 bob device2
out=$(ocsp bob)
has "$out" "device-cert.pem: revoked" "bob's re-enrollment revoked his older certificate"
has "$out" "Reason: superseded" "as superseded"
like "$(grep OTA00114 "$CA_LOG" | tail -1)" "certificate $b_serial of device .* revoked as superseded" \
    "logged (OTA00114)"
udid_b=$(openssl x509 -in "$T_WORK/bob2/device-cert.pem" -noout -subject -nameopt multiline \
         | sed -n 's/.*commonName *= *//p')
action "{\"action\":\"revoke\",\"udid\":\"$udid_b\",\"reason\":\"cessationOfOperation\"}"
is "$A_STATUS" 200 "revoke by device: 200"
like "$A_BODY" "^\{\"revoked\":\[\"$(cert_serial bob2)\"\]\}$" "its one unrevoked certificate"

# ---- what the responder refuses ----
ocsp_post() {   # ocsp_post FILE [TYPE]: status; the response in ocsp.out
    curl -s -o "$T_WORK/ocsp.out" -w '%{http_code}' --data-binary "@$1" \
        -H "Content-Type: ${2:-application/ocsp-request}" "$base/ota/ocsp"
}
head -c 100 /dev/urandom >"$T_WORK/junk"
n0=$(log_count OTA00107)
is "$(ocsp_post "$T_WORK/junk")" 200 "malformed DER: an OCSPResponse (HTTP 200)"
has "$(openssl ocsp -respin "$T_WORK/ocsp.out" -resp_text -noverify 2>&1)" "malformedrequest" \
    "malformedRequest"
is "$(( $(log_count OTA00107) - n0 ))" 1 "one OTA00107 line"
openssl ocsp -issuer "$PKI/signing-ca.pem" -serial 0x01 -reqout "$T_WORK/req.der" >/dev/null 2>&1
n0=$(log_count OTA00106)
is "$(ocsp_post "$T_WORK/req.der" text/plain)" 415 "a wrong Content-Type: 415"
is "$(( $(log_count OTA00106) - n0 ))" 1 "one OTA00106 line"
openssl ocsp -issuer "$PKI/signing-root.pem" -serial 0x01 -reqout "$T_WORK/other.der" >/dev/null 2>&1
n0=$(log_count OTA00108)
ocsp_post "$T_WORK/other.der" >/dev/null
has "$(openssl ocsp -respin "$T_WORK/ocsp.out" -resp_text -noverify 2>&1)" "unauthorized" \
    "a CertID of another issuer: unauthorized"
is "$(( $(log_count OTA00108) - n0 ))" 1 "one OTA00108 line"
ocsp_post "$T_WORK/req.der" >/dev/null
like "$(openssl ocsp -respin "$T_WORK/ocsp.out" -issuer "$PKI/signing-ca.pem" -serial 0x01 \
        -CAfile "$T_WORK/ca-chain.pem" -no_nonce 2>&1)" "0x01: unknown" "a serial never issued: unknown"
b64=$(base64 -w0 <"$T_WORK/req.der" | sed 's|/|%2F|g; s|+|%2B|g; s|=|%3D|g')
curl -s -o "$T_WORK/get.out" "$base/ota/ocsp/$b64"
like "$(openssl ocsp -respin "$T_WORK/get.out" -issuer "$PKI/signing-ca.pem" -serial 0x01 \
        -CAfile "$T_WORK/ca-chain.pem" -no_nonce 2>&1)" "0x01: unknown" \
    "GET with the base64 request in the path is answered too"
is "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$base/ota/ocsp")" 405 "PUT: 405"

for c in "$RP_OCSP_CONF" "$RP_CRL_CONF"; do T_CONF=$c apache_stop; done
T_CONF=$CA_CONF T_LOG=$CA_LOG
log_clean OTA00105 OTA00106 OTA00107 OTA00108 OTA00111 OTA00112 OTA00113
done_testing
