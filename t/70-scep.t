#!/bin/bash
# The built-in CA against real peers and crafted requests: micromdm's
# scepclient, the dynamic challenge's binding to device and subject, each
# FAILURE reason, GET/POST equivalence, a CA chain, and the GetCACaps
# front for a CA (micromdm's scepserver) whose GetCACaps is blocked.
. "$(dirname "$0")/lib.sh"
t_setup

scepserver_start
ok $? "micromdm scepserver runs as the external CA"
scep_port=${SCEP_URL#http://127.0.0.1:}
scep_port=${scep_port%%/*}
cat "$PKI/signing-ca.pem" "$PKI/signing-root.pem" >"$T_WORK/ca-chain.pem"
T_PORT_FIXED=$(free_port)
base=http://127.0.0.1:$T_PORT_FIXED
# /ota: the built-in CA, with DES3 and SHA-1 for iOS 4 only; /blocked:
# micromdm's scepserver with its GetCACaps blocked, as a CA that never
# answers it; /front: the front, proxying to that blocked CA.
blocked_site=(auth=none scep=off challenge=scep-secret enroll_extra="OTAEnrollGetCACaps off")
T_LOAD="proxy proxy_http" apache_start scep "$(site_locations auth=none scep_extra='
<If "%{HTTP_USER_AGENT} =~ /iPhone OS 4_/">
    OTAEnrollSCEPCapabilities DES3 SHA-1 Renewal
</If>')
<Location /legacy/scep>
    SetHandler ota-scep
    OTAEnrollSCEPCapabilities SHA-1 DES3 POSTPKIOperation
</Location>
<Location /chain/scep>
    SetHandler ota-scep
    OTAEnrollCACertificate \"$T_WORK/ca-chain.pem\"
    OTAEnrollCAKey \"$PKI/signing-ca.key\"
    OTAEnrollSCEPChallenge chain-secret
</Location>
<Location /blocked/scep>
    ProxyPass http://127.0.0.1:$scep_port/scep
    RewriteEngine on
    RewriteCond %{QUERY_STRING} operation=GetCACaps
    RewriteRule ^ - [R=404]
</Location>
<Location /front/scep>
    ProxyPass $base/blocked/scep
    OTAEnrollSCEPFront on
    OTAEnrollSCEPCapabilities POSTPKIOperation Renewal SHA-1 DES3
</Location>
$(site_locations prefix=/blocked "${blocked_site[@]}")
$(site_locations prefix=/front "${blocked_site[@]}")
"
ok $? "apache2 starts with the built-in CA, a proxied CA and its front"

issued() { db_count 'select count(*) from ota_certificate'; }
scep() {   # scep ARGS...: the emulator's SCEP client, output in $S_OUT
    S_OUT=$("$OTA_DEVICE" scep "$@" 2>&1)
    S_RC=$?
}
enroll() {   # enroll PATH OS [ARGS]: phases 1 and 2, then SCEP
    local path=$1 os=$2
    shift 2
    # these servers have no final profile: stop after SCEP
    case " $* " in *" --stop-after "*) ;; *) set -- --stop-after scep "$@" ;; esac
    E_OUT=$("$OTA_DEVICE" enroll --url "$base$path" --trust "$PKI/signing-root.pem" \
            --identity "$PKI/device.pem" --key "$PKI/device.key" --chain "$PKI/device-ca-chain.pem" \
            --emulate "$os" --timeout 3 "$@" 2>&1)
    E_RC=$?
}

# ---- micromdm's scepclient, a real peer ----
n0=$(log_count OTA00063)
mkdir -p "$T_WORK/sc" && (cd "$T_WORK/sc" && timeout 20 scepclient -server-url "$base/ota/scep" \
    -private-key key.pem -challenge anything -cn dev1 -ou "" -country "" >out 2>&1)
sc=$(cat "$T_WORK/sc/out")
like "$sc" 'badAlg' "scepclient 2.1.0 reads the CA's FAILURE CertRep: badAlg"
[ ! -s "$T_WORK/sc/client.pem" ]
ok $? "and gets no certificate: it signs with SHA-1, not among the capabilities"
like "$(grep OTA00063 "$T_LOG" | tail -1)" 'digest SHA1 not allowed' "the log says why"
mkdir -p "$T_WORK/sc2" && (cd "$T_WORK/sc2" && timeout 20 scepclient -server-url "$base/legacy/scep" \
    -private-key key.pem -challenge anything -cn dev1 -ou "" -country "" >out 2>&1)
like "$(cat "$T_WORK/sc2/out")" 'badAlg' "with SHA-1 allowed, scepclient is still refused: badAlg"
like "$(grep OTA00063 "$T_LOG" | tail -1)" 'DES-CBC' \
    "for its single DES envelope, which the CA never accepts"
is "$(( $(log_count OTA00063) - n0 ))" 2 "one OTA00063 line each"

# ---- the dynamic challenge: bound to the device and its subject ----
enroll /ota/profile current --stop-after phase2 --save-dir "$T_WORK/dyn"
is "$E_RC" 0 "phase 2 in front of the built-in CA"
p2=$(tr -d '\n\t' <"$T_WORK/dyn/phase2.plist")
challenge=$(printf '%s' "$p2" | sed -n 's/.*<key>Challenge<\/key><string>\([^<]*\)<.*/\1/p')
[ "${#challenge}" -ge 22 ]
ok $? "the payload carries a one-time challenge (dynamic is the default here)"
is "$(db_count 'select udid || subject from ota_scep_challenge where used is null')" \
   "6A1B2C3D-0000-4000-8000-00000000D001O=Example Inc.
CN=6A1B2C3D-0000-4000-8000-00000000D001" "bound to the device and the subject it was told"
has "$p2" "<key>CAFingerprint</key><data>$(openssl x509 -in "$PKI/signing-ca.pem" -outform DER | openssl dgst -sha1 -binary | base64)</data>" \
    "the payload pins the built-in CA"
n0=$(issued)
scep --url "$base/ota/scep" --challenge "$challenge" --subject "/O=Example Inc./CN=SOMEONE-ELSE"
is "$S_RC" 6 "a CSR for another subject: FAILURE"
like "$S_OUT" 'badRequest' "badRequest"
like "$(grep OTA00067 "$T_LOG" | tail -1)" 'subject-mismatch' "logged as subject-mismatch (OTA00067)"
is "$(db_count "select count(*) from ota_scep_challenge where used is not null")" 0 \
   "the challenge is not consumed by the refusal"
scep --url "$base/ota/scep" --challenge "$challenge" --subject "/O=Example Inc./CN=6A1B2C3D-0000-4000-8000-00000000D001"
is "$S_RC" 0 "the CSR for the bound subject: SUCCESS"
is "$(issued)" $((n0 + 1)) "one certificate"
is "$(db_count "select udid from ota_certificate order by issued desc limit 1")" \
   6A1B2C3D-0000-4000-8000-00000000D001 "recorded for the device"
is "$(db_count "select phase || ' ' || (cert_serial is not null) from ota_device")" "3 1" \
   "the device moves to phase 3 (certificate issued) with its serial"
scep --url "$base/ota/scep" --challenge "$challenge" --subject "/O=Example Inc./CN=6A1B2C3D-0000-4000-8000-00000000D001"
is "$S_RC" 6 "the one-time challenge again (new key): FAILURE"
like "$(grep OTA00065 "$T_LOG" | tail -1)" 'already used' "logged: already used (OTA00065)"
scep --url "$base/ota/scep" --challenge never-issued --subject /CN=x
like "$S_OUT" 'badRequest' "an unknown challenge: badRequest"
scep --url "$base/ota/scep" --subject /CN=x
like "$S_OUT" 'badRequest' "no challenge at all: badRequest"
is "$(issued)" $((n0 + 1)) "still one certificate"

# ---- FAILURE reasons, and GET and POST alike ----
scep --url "$base/ota/scep" --digest md5 --challenge x --subject /CN=x
like "$S_OUT" 'failInfo: badAlg' "MD5: badAlg"
scep --url "$base/ota/scep" --cipher des --challenge x --subject /CN=x
like "$S_OUT" 'failInfo: badAlg' "single DES: badAlg"
"$OTA_DEVICE" scep --url "$base/ota/scep" --challenge x --subject /CN=x --save-request "$T_WORK/req.der" >/dev/null 2>&1
len=$(stat -c %s "$T_WORK/req.der")
cp "$T_WORK/req.der" "$T_WORK/tampered.der"
printf '\x00\x00\x00\x00' | dd of="$T_WORK/tampered.der" bs=1 seek=$((len - 40)) conv=notrunc 2>/dev/null
for m in post get; do
    scep --url "$base/ota/scep" --send "$T_WORK/tampered.der" --method $m
    like "$S_OUT" 'badMessageCheck|HTTP 400' "a tampered request by ${m^^}: badMessageCheck (or unreadable)"
done
openssl req -new -newkey rsa:2048 -nodes -keyout "$T_WORK/other.key" -subj /CN=o -out /dev/null 2>/dev/null
openssl req -x509 -new -key "$T_WORK/other.key" -subj /CN=o -days 1 -out "$T_WORK/other.pem" 2>/dev/null
scep --url "$base/ota/scep" --cacert "$T_WORK/other.pem" --challenge x --subject /CN=x
like "$S_OUT" 'HTTP 200 application/x-pki-message' "enveloped to another certificate: a CertRep"
like "$(grep OTA00063 "$T_LOG" | tail -1)" 'badMessageCheck' "FAILURE badMessageCheck"
scep --url "$base/ota/scep" --type poll --subject /CN=nobody --transaction-id NEVER-SEEN
like "$S_OUT" 'failInfo: badCertId' "GetCertInitial for an unknown transaction: badCertId"

# GET and POST: the same request, the same verdict.
enroll /ota/profile current --stop-after phase2 --save-dir "$T_WORK/eq1"
c1=$(tr -d '\n\t' <"$T_WORK/eq1/phase2.plist" | sed -n 's/.*<key>Challenge<\/key><string>\([^<]*\)<.*/\1/p')
scep --url "$base/ota/scep" --method get --challenge "$c1" --subject "/O=Example Inc./CN=6A1B2C3D-0000-4000-8000-00000000D001" \
     --save-request "$T_WORK/get.der"
is "$S_RC" 0 "PKCSReq by GET: SUCCESS"
get_fail=$("$OTA_DEVICE" scep --url "$base/ota/scep" --method get --send "$T_WORK/get.der" 2>&1 | grep -E 'status|failInfo')
post_fail=$("$OTA_DEVICE" scep --url "$base/ota/scep" --method post --send "$T_WORK/get.der" 2>&1 | grep -E 'status|failInfo')
is "$post_fail" "$get_fail" "its replay answers the same by POST as by GET"
like "$post_fail" 'badRequest' "(FAILURE badRequest: no second certificate)"

# Old devices get DES3 and SHA-1 from the <If>, and only they.
scep --url "$base/ota/scep" --operation GetCACaps
unlike "$S_OUT" 'DES3' "GetCACaps: no DES3 for everyone"
caps_ios4=$(curl -s -A 'Mozilla/5.0 (iPhone; U; CPU iPhone OS 4_0 like Mac OS X) Profile/1.0' "$base/ota/scep?operation=GetCACaps")
like "$caps_ios4" 'DES3' "GetCACaps: DES3 for iOS 4's User-Agent"
enroll /ota/profile ios4
is "$E_RC" 0 "iOS 4 enrolls with the built-in CA"
like "$E_OUT" 'cipher 3DES, digest SHA-1' "using the 3DES and SHA-1 its <If> allows"

# ---- a chain: GetCACert answers certificates-only PKCS#7 ----
ct=$(curl -s -o "$T_WORK/ra.der" -w '%{content_type}' "$base/chain/scep?operation=GetCACert")
is "$ct" application/x-x509-ca-ra-cert "GetCACert of a chain is application/x-x509-ca-ra-cert"
is "$(openssl pkcs7 -inform DER -in "$T_WORK/ra.der" -print_certs 2>/dev/null | grep -c '^subject')" 2 \
   "openssl pkcs7 reads both certificates"
scep --url "$base/chain/scep" --challenge chain-secret --subject /CN=chained
is "$S_RC" 0 "PKCSReq against the chained CA: SUCCESS"

# ---- the GetCACaps front ----
enroll /blocked/profile ios4 --scep-legacy
is "$E_RC" 4 "iOS 4 against the CA that never answers GetCACaps: fails"
like "$E_OUT" 'A network error has occurred. The network connection was lost' "with the seed's message"
enroll /front/profile ios4 --scep-legacy --save-dir "$T_WORK/front"
is "$E_RC" 0 "the same CA behind the front: iOS 4 enrolls"
like "$E_OUT" 'RESULT: enrolled' "RESULT: enrolled"
unlike "$(cat "$T_WORK/front/phase2.plist")" 'GetCACaps' "with no GetCACaps in its payload: the front answered"
is "$(log_count OTA00074)" 1 "the front logged its answer (OTA00074)"
check "the certificate comes from scepserver, through mod_proxy" \
    openssl verify -CAfile "$SCEP_CA" "$T_WORK/front/device-cert.pem"

apache_stop
log_clean OTA00063 OTA00064 OTA00065 OTA00067 OTA00070 OTA00075
done_testing
