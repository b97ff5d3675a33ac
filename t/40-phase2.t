#!/bin/bash
# Phase 2: a device posts its signed attributes and gets the SCEP payload.
# Every refusal has its own status and log id, and stores nothing.
. "$(dirname "$0")/lib.sh"
t_setup

T_PORT_FIXED=$(free_port)
scep=http://127.0.0.1:$T_PORT_FIXED/ndes/mscep.dll
# The same enrollment for anyone (/ota) and for authenticated users
# (/ota/user).
site=(scep=off scep_url="$scep" subject="O=Example Inc./OU=%{PRODUCT}/CN=%{UDID}"
      challenge=static-ca-secret)
phase2_conf='OTAEnrollMaxBodySize 8192
OTAEnrollSCEPName ExampleCA
OTAEnrollSCEPKeySize 2048
OTAEnrollSCEPKeyUsage 5
OTAEnrollSCEPRetries 4
OTAEnrollSCEPRetryDelay 30
OTAEnrollSCEPCACertificate "'"$PKI/signing-ca.pem"'"
OTAEnrollGetCACaps POSTPKIOperation Renewal SHA-1'
apache_start phase2 "$(ndes_like /ndes/mscep.dll "$PKI/signing-ca.pem")
$(site_locations auth=none "${site[@]}" enroll_extra="$phase2_conf")
$(site_locations prefix=/ota/user "${site[@]}" enroll_extra="$phase2_conf
$(auth_basic)")"
ok $? "apache2 starts"

# ---- the emulator enrolls ----
out=$T_WORK/emu
run=$("$OTA_DEVICE" enroll --url "$(t_url /ota/profile)" --trust "$PKI/signing-root.pem" \
      --identity "$PKI/device.pem" --key "$PKI/device.key" --chain "$PKI/device-ca-chain.pem" \
      --emulate ios4 --stop-after phase2 --save-dir "$out" 2>&1)
ok $? "the emulated device completes phases 1 and 2"
like "$run" 'GetCACaps: from the payload, not asked' "with the list written in, iOS 4 does not ask the CA"
unlike "$run" 'static-ca-secret' "the emulator never prints the SCEP challenge"
signed_plist "the phase-2 answer" "$out/phase2.der" "$T_WORK/answer.plist"
a=$(tr -d '\n\t' <"$T_WORK/answer.plist")
like "$a" '<key>PayloadType</key><string>Configuration</string>' "the answer is a Configuration profile"
like "$a" '<key>PayloadType</key><string>com.apple.security.scep</string>' "holding a com.apple.security.scep payload"
like "$a" "<key>URL</key><string>$scep</string>" "URL is OTAEnrollSCEPURL"
like "$a" '<key>Name</key><string>ExampleCA</string>' "Name is OTAEnrollSCEPName"
like "$a" '<key>Subject</key><array><array><array><string>O</string><string>Example Inc.</string></array></array><array><array><string>OU</string><string>iPhone3,1</string></array></array><array><array><string>CN</string><string>6A1B2C3D-0000-4000-8000-00000000D001</string></array></array></array>' \
    "Subject is an array of [attribute, value] pairs filled from the device"
like "$a" '<key>Challenge</key><string>static-ca-secret</string>' "Challenge is the CA's"
like "$a" '<key>Keysize</key><integer>2048</integer>' "Keysize"
like "$a" '<key>Key Type</key><string>RSA</string>' "Key Type"
like "$a" '<key>Key Usage</key><integer>5</integer>' "Key Usage"
like "$a" '<key>Retries</key><integer>4</integer>' "Retries"
like "$a" '<key>RetryDelay</key><integer>30</integer>' "RetryDelay"
fp64=$(openssl x509 -in "$PKI/signing-ca.pem" -outform DER | openssl dgst -sha1 -binary | base64)
has "$a" "<key>CAFingerprint</key><data>$fp64</data>" "CAFingerprint is the SHA-1 of the CA certificate"
like "$a" '<key>GetCACaps</key><array><string>POSTPKIOperation</string><string>Renewal</string><string>SHA-1</string></array>' \
    "GetCACaps is the configured array of strings"
# Every key the SCEP payload content uses is spelled as in Apple's schema.
schema=$T_TOP/apple/schemas/com.apple.security.scep.yaml
bad_keys=
while read -r k; do
    case $k in GetCACaps|Payload*) continue ;; esac
    grep -q -- "- key: $k\$" "$schema" 2>/dev/null || bad_keys="$bad_keys [$k]"
done < <(printf '%s' "$a" | sed 's/.*com.apple.security.scep//' | grep -o '<key>[^<]*</key>' | sed 's/<[^>]*>//g' | sort -u)
grep -q -- '- key: Key Usage$' "$schema"
ok $? "Apple's schema spells 'Key Usage' as the payload does"
is "$bad_keys" "" "every SCEP payload key is spelled as in Apple's schema"
is "$(db_count 'select count(*) from ota_device')" 1 "the device is recorded"
is "$(db_count "select serial||' '||product||' '||version||' '||phase from ota_device")" \
    "OTAEMU000001 iPhone3,1 8A293 2" "with its serial, product, version and phase"
is "$(db_count 'select count(*) from ota_challenge where used is not null')" 1 "its challenge is consumed"
like "$(cat "$(dirname "$T_CONF")/access.log")" 'POST /ota/enroll HTTP/1.1" 200 .* udid=6A1B2C3D-0000-4000-8000-00000000D001 phase=2' \
    "OTA_UDID and OTA_PHASE are in the request environment"

# ---- crafted requests (the hostile ones are in t/85-hostile.t) ----
udid=6A1B2C3D-0000-4000-8000-00000000D001
w=$T_WORK/bodies
signed_attrs good "$udid" "$(t_url /ota/profile)"
c=$CHALLENGE
signed_attrs expired "$udid" "$(t_url /ota/profile)"
c2=$CHALLENGE
d2=$(printf '%s' "$c2" | sha256sum | cut -d' ' -f1)
sqlite3 "$T_DB" "update ota_challenge set expires = created - 1 where digest = '$d2'"
refused "expired challenge" /ota/enroll "$w/expired.der" 403 OTA00038

is "$(post_body /ota/enroll "$w/good.der")" 200 \
   "a crafted, well-signed body with a fresh challenge is accepted"
refused "replayed challenge" /ota/enroll "$w/good.der" 403 OTA00039

# Another user's challenge: issued to alice, presented by bob.
signed_attrs alice "$udid" "$(t_url /ota/user/profile)" -u alice:secret
c3=$CHALLENGE
refused "alice's challenge presented by bob" /ota/user/enroll "$w/alice.der" 403 OTA00040 -u bob:secret
is "$(post_body /ota/user/enroll "$w/alice.der" -u alice:secret)" 200 "alice herself can use it"
is "$(db_count "select username from ota_device")" alice "the device is recorded as alice's"

# Methods.
headers=$(curl -s -D - -o /dev/null "$(t_url /ota/enroll)")
like "$headers" '^HTTP/1.1 405' "GET on ota-enroll is 405"
like "$headers" 'Allow: ([A-Z]+,)*POST' "with Allow naming POST"
is "$(log_count OTA00020)" 1 "logged with OTA00020"
unlike "$(cat "$T_LOG")" "static-ca-secret|$c|$c2|$c3" "no challenge or secret appears in the error log"

apache_stop
log_clean OTA00020 OTA00038 OTA00039 OTA00040
done_testing
