#!/bin/bash
# Phase 3: a device signs with the identity it obtained by SCEP and gets
# its final profile, encrypted to that identity only. Every other signer
# is refused with its own log id, and nothing is recorded for it.
. "$(dirname "$0")/lib.sh"
t_setup

scepserver_start
ok $? "micromdm scepserver runs as an external CA"
profile=$T_TOP/t/fixtures/profiles/configuration.mobileconfig
T_PORT_FIXED=$(free_port)
base=http://127.0.0.1:$T_PORT_FIXED
# /ota: the built-in CA; /3des: the same, the final profile in 3DES;
# /ext: micromdm's scepserver.
apache_start phase3 "$(site_locations final="$profile")
$(site_locations prefix=/3des scep=off scep_url="$base/ota/scep" final="$profile" \
    enroll_extra="OTAEnrollProfileCipher des-ede3-cbc")
$(site_locations prefix=/ext scep=off scep_url="$SCEP_URL" challenge=scep-secret \
    final="$profile" enroll_extra="OTAEnrollIssuerCA \"$SCEP_CA\"")"
ok $? "apache2 starts with a final profile"

D1=6A1B2C3D-0000-4000-8000-00000000D001
D2=6A1B2C3D-0000-4000-8000-00000000D002
enroll() {   # enroll NAME PATH DEVICE [ARGS]: the emulator, whole flow
    local name=$1 path=$2 dev=$3
    shift 3
    E_OUT=$("$OTA_DEVICE" enroll --url "$base$path" --trust "$PKI/signing-root.pem" \
            --identity "$PKI/$dev.pem" --key "$PKI/$dev.key" --chain "$PKI/device-ca-chain.pem" \
            --emulate current --timeout 5 --save-dir "$T_WORK/$name" "$@" 2>&1)
    E_RC=$?
}
attrs() {   # attrs UDID: phase-3 attributes (no CHALLENGE)
    printf '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">\n<dict>\n'
    printf '\t<key>UDID</key>\n\t<string>%s</string>\n' "$1"
    printf '\t<key>PRODUCT</key>\n\t<string>iPhone15,2</string>\n'
    printf '\t<key>VERSION</key>\n\t<string>21A329</string>\n</dict>\n</plist>\n'
}
post3() {   # post3 CERT KEY UDID [PATH]: a phase-3 body signed by CERT
    attrs "$3" >"$T_WORK/p3.xml"
    "$OTA_DEVICE" sign --identity "$1" --key "$2" --digest sha256 --attributes \
        "$T_WORK/p3.xml" "$T_WORK/p3.der" >/dev/null 2>&1
    curl -s -o "$T_WORK/p3.out" -w '%{http_code}' -H 'Content-Type: application/pkcs7-signature' \
        --data-binary "@$T_WORK/p3.der" "$base${4:-/ota/enroll}"
}
state() {
    db_count "select group_concat(udid || ':' || phase || ':' || (enrolled_at is not null), ' ') from ota_device"
}
refused() {   # refused NAME STATUS ID CERT KEY UDID [PATH]
    local name=$1 want=$2 id=$3 before n0 got
    before=$(state)
    n0=$(log_count "$id")
    got=$(post3 "$4" "$5" "$6" "${7:-}")
    is "$got" "$want" "$name: HTTP $want"
    is "$(( $(log_count "$id") - n0 ))" 1 "$name: one $id line"
    is "$(state)" "$before" "$name: nothing recorded"
}
final_content() {   # the EncryptedPayloadContent of a phase-3 answer, DER
    openssl cms -verify -inform DER -in "$1" -CAfile "$PKI/signing-root.pem" -purpose any 2>/dev/null \
        | tr -d '\n\t' | sed -n 's/.*<key>EncryptedPayloadContent<\/key><data>\([^<]*\)<.*/\1/p' \
        | base64 -d
}

# ---- the whole flow, with the emulator ----
enroll d1 /ota/profile device --user alice:secret
is "$E_RC" 0 "the emulated device goes through phases 1, 2, SCEP and 3"
like "$E_OUT" 'RESULT: enrolled, final profile installed' "and installs its final profile"
d1=$T_WORK/d1
signed_plist "the phase-3 answer" "$d1/phase3.der" "$T_WORK/p3.plist"
p3=$(tr -d '\n\t' <"$T_WORK/p3.plist")
like "$p3" '<key>PayloadType</key><string>Configuration</string>' "a Configuration profile"
like "$p3" '<key>IsEncrypted</key><true/>' "IsEncrypted is true"
unlike "$p3" '<key>PayloadContent</key>' "with no clear PayloadContent"
id1=$(printf '%s' "$p3" | sed -n 's/.*<key>PayloadIdentifier<\/key><string>\([^<]*\)<.*/\1/p')
like "$id1" "$D1" "its PayloadIdentifier names the device ($id1)"
final_content "$d1/phase3.der" >"$T_WORK/enc.der"
check "openssl cms -decrypt opens EncryptedPayloadContent with the device key" \
    openssl cms -decrypt -inform DER -in "$T_WORK/enc.der" -inkey "$d1/device-key.pem" \
        -recip "$d1/device-cert.pem" -out "$T_WORK/final.plist"
final=$(tr -d '\n\t' <"$T_WORK/final.plist")
like "$final" '^<\?xml.*<plist version="1.0"><array><dict>' "it holds the payload array"
like "$final" "com.apple.wifi.managed" "with the Wi-Fi payload"
like "$final" "$D1" "%{UDID} is filled"
like "$final" '<string>alice</string>' "%{REMOTE_USER} is the phase-1 user"
unlike "$final" '%\{' "no template is left"
[ "$(grep -o '<key>PayloadUUID</key>' "$T_WORK/final.plist" | wc -l)" -ge 2 ]
ok $? "every payload has a PayloadUUID (missing ones generated)"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T_WORK/other.key" -subj /CN=other \
    -days 1 -out "$T_WORK/other.pem" 2>/dev/null
! openssl cms -decrypt -inform DER -in "$T_WORK/enc.der" -inkey "$T_WORK/other.key" \
    -recip "$T_WORK/other.pem" -out /dev/null 2>/dev/null
ok $? "no other key opens it"
! openssl cms -decrypt -inform DER -in "$T_WORK/enc.der" -inkey "$PKI/device.key" -out /dev/null 2>/dev/null
ok $? "not even the device's Apple key"
is "$(openssl cms -cmsout -print -inform DER -in "$T_WORK/enc.der" | grep -c 'd.ktri')" 1 \
   "exactly one recipient"
like "$(openssl cms -cmsout -print -inform DER -in "$T_WORK/enc.der")" 'aes-256-cbc' "AES-256-CBC by default"
is "$(db_count "select phase || ' ' || (phase1_at > 0) || (phase2_at > 0) || (cert_at > 0) || (enrolled_at > 0) from ota_device where udid = '$D1'")" \
   "4 1111" "the registry has phase 4 and the time of each step"
is "$(db_count "select cert_serial from ota_device where udid = '$D1'")" \
   "$(openssl x509 -in "$d1/device-cert.pem" -noout -serial | sed 's/serial=//')" \
   "and the certificate serial"
code=$(post3 "$d1/device-cert.pem" "$d1/device-key.pem" "$D1")
is "$code" 200 "phase 3 again"
openssl cms -verify -inform DER -in "$T_WORK/p3.out" -noverify 2>/dev/null | tr -d '\n\t' >"$T_WORK/again.plist"
is "$(sed -n 's/.*<key>PayloadIdentifier<\/key><string>\([^<]*\)<.*/\1/p' "$T_WORK/again.plist")" "$id1" \
   "the same PayloadIdentifier: a re-run replaces the profile"

# OTAEnrollProfileCipher for older devices.
# alice again: the device is hers (another user would be refused)
enroll d1des /3des/profile device --user alice:secret
is "$E_RC" 0 "a location with OTAEnrollProfileCipher des-ede3-cbc"
final_content "$T_WORK/d1des/phase3.der" >"$T_WORK/enc3.der"
like "$(openssl cms -cmsout -print -inform DER -in "$T_WORK/enc3.der")" 'des-ede3-cbc' "encrypts with 3DES"

# ---- refusals ----
enroll d2 /ota/profile device2 --user bob:secret --stop-after scep
is "$E_RC" 0 "a second device enrolls up to SCEP"
refused "the Apple device identity (no challenge: phase 2 rules)" 400 OTA00036 \
    "$PKI/device.pem" "$PKI/device.key" "$D1"
refused "another device's certificate" 403 OTA00083 \
    "$T_WORK/d2/device-cert.pem" "$T_WORK/d2/device-key.pem" "$D1"
refused "our CA's expired certificate" 403 OTA00033 \
    "$PKI/expired-ourca-device.pem" "$PKI/expired-ourca-device.key" "$D1"
refused "our CA's certificate with the Apple chain's weaknesses (SHA-1, RSA-1024, expired)" 403 OTA00032 \
    "$PKI/weak-ourca-device.pem" "$PKI/weak-ourca-device.key" "$D1"
refused "a device that never passed phase 2" 403 OTA00080 \
    "$PKI/ourca-device.pem" "$PKI/ourca-device.key" 6A1B2C3D-0000-4000-8000-00000000D0CA
refused "a certificate of the CA its registry does not know" 403 OTA00084 \
    "$PKI/ourca-device.pem" "$PKI/ourca-device.key" "$D2"
serial2=$(openssl x509 -in "$T_WORK/d2/device-cert.pem" -noout -serial | sed 's/serial=//')
sqlite3 "$T_DB" "update ota_certificate set revoked = 1 where serial = '$serial2'"
refused "a revoked certificate" 403 OTA00082 \
    "$T_WORK/d2/device-cert.pem" "$T_WORK/d2/device-key.pem" "$D2"
sqlite3 "$T_DB" "update ota_certificate set revoked = null where serial = '$serial2'"
sqlite3 "$T_DB" "update ota_device set phase2_at = phase2_at - 7200 where udid = '$D2'"
refused "after the enrollment window" 403 OTA00081 \
    "$T_WORK/d2/device-cert.pem" "$T_WORK/d2/device-key.pem" "$D2"
sqlite3 "$T_DB" "update ota_device set phase2_at = phase2_at + 7200 where udid = '$D2'"
is "$(post3 "$T_WORK/d2/device-cert.pem" "$T_WORK/d2/device-key.pem" "$D2")" 200 \
   "the second device, back in its window and unrevoked: 200"

# ---- an external CA: micromdm's scepserver ----
enroll ext /ext/profile device --user alice:secret --scep-legacy
is "$E_RC" 0 "with micromdm's scepserver as the CA, the device enrolls through phase 3"
check "its final profile opens with the key scepserver certified" \
    openssl cms -decrypt -inform DER -in "$T_WORK/ext/encrypted-content.der" \
        -inkey "$T_WORK/ext/device-key.pem" -recip "$T_WORK/ext/device-cert.pem" -out /dev/null
mkdir -p "$T_WORK/sc" && (cd "$T_WORK/sc" && scepclient -server-url "$SCEP_URL" -private-key key.pem \
    -challenge scep-secret -cn someone-else -organization "Example Inc." -ou "" -country "" >/dev/null 2>&1)
refused "a certificate of the external CA for another subject" 403 OTA00083 \
    "$T_WORK/sc/client.pem" "$T_WORK/sc/key.pem" "$D1" /ext/enroll

apache_stop
log_clean OTA00032 OTA00033 OTA00036 OTA00080 OTA00081 OTA00082 OTA00083 OTA00084
done_testing
