#!/bin/bash
# Phase 1: the signed Profile Service payload and its challenge.
. "$(dirname "$0")/lib.sh"
t_setup

apache_start phase1 "$(site_locations auth=none enroll=off scep=off \
    profile_extra='OTAEnrollDeviceAttributes UDID VERSION PRODUCT SERIAL DEVICE_NAME
OTAEnrollChallengeLifetime 600')
$(site_locations prefix=/ota/user enroll=off scep=off url=https://enroll.example.org/ota/enroll)"
ok $? "apache2 starts with the module"

out=$T_WORK/p1
mkdir -p "$out"
headers=$(curl -s -D - -o "$out/a.der" "$(t_url /ota/profile)")
like "$headers" '^HTTP/1.1 200' "GET answers 200"
like "$headers" 'Content-Type: application/x-apple-aspen-config' \
    "Content-Type is application/x-apple-aspen-config"
like "$headers" 'Cache-Control: no-store' "the answer is not cached"

signed_plist "the payload" "$out/a.der" "$out/a.plist"
signers=$(openssl cms -cmsout -print -inform DER -in "$out/a.der" | grep -c 'subject:')
[ "$signers" -ge 2 ]
ok $? "the signature carries the signing chain (leaf and intermediate)"

p=$(tr -d "\n\t" <"$out/a.plist")
like "$p" '<key>PayloadType</key>[[:space:]]*<string>Profile Service</string>' "PayloadType is Profile Service"
like "$p" '<key>PayloadVersion</key>[[:space:]]*<integer>1</integer>' "PayloadVersion is 1"
like "$p" '<key>PayloadIdentifier</key>[[:space:]]*<string>org.example.test.ota.profile-service</string>' "PayloadIdentifier from OTAEnrollIdentifier"
like "$p" '<key>PayloadUUID</key>[[:space:]]*<string>[0-9A-F-]{36}</string>' "PayloadUUID is a UUID"
like "$p" '<key>PayloadOrganization</key>[[:space:]]*<string>mod_ota_enroll tests</string>' "PayloadOrganization"
like "$p" '<key>PayloadDisplayName</key>' "PayloadDisplayName present"
like "$p" "<key>URL</key>[[:space:]]*<string>http://127.0.0.1:$T_PORT/ota/enroll</string>" \
    "a relative OTAEnrollURL becomes this server's URL"
for a in UDID VERSION PRODUCT SERIAL DEVICE_NAME; do
    like "$p" "<string>$a</string>" "DeviceAttributes asks for $a"
done
unlike "$p" "<string>IMEI</string>" "DeviceAttributes asks for nothing else"
c1=$(printf '%s' "$p" | tr -d '\n\t ' | sed -n 's/.*<key>Challenge<\/key><string>\([^<]*\)<.*/\1/p')
[ "${#c1}" -ge 22 ]
ok $? "the challenge carries at least 128 bits (${#c1} base64url characters)"
curl -s -o "$out/b.der" "$(t_url /ota/profile)"
openssl cms -verify -inform DER -in "$out/b.der" -noverify -out "$out/b.plist" 2>/dev/null
c2=$(tr -d '\n\t ' <"$out/b.plist" | sed -n 's/.*<key>Challenge<\/key><string>\([^<]*\)<.*/\1/p')
[ -n "$c2" ] && [ "$c1" != "$c2" ]
ok $? "every request gets a fresh challenge"
is "$(db_count 'select count(*) from ota_challenge')" 2 "both challenges are stored"
is "$(db_count "select count(*) from ota_challenge where digest like '%$c1%'")" 0 \
    "the database holds only a digest of the challenge, not the challenge"
is "$(db_count 'select count(*) from ota_challenge where expires - created = 600')" 2 \
    "OTAEnrollChallengeLifetime sets the expiry"

# Other methods.
headers=$(curl -s -D - -o /dev/null -X POST --data x "$(t_url /ota/profile)")
like "$headers" '^HTTP/1.1 405' "POST on the profile service is 405"
like "$headers" 'Allow: ([A-Z]+,)*GET' "with Allow naming GET"
is "$(log_count OTA00010)" 1 "the 405 is logged with OTA00010"
is "$(db_count 'select count(*) from ota_challenge')" 2 "a refused request stores no challenge"

# Authenticated users: the challenge is bound to them.
code=$(curl -s -o /dev/null -w '%{http_code}' "$(t_url /ota/user/profile)")
is "$code" 401 "the authenticated location asks for a password"
curl -s -u alice:secret -o "$out/c.der" "$(t_url /ota/user/profile)"
openssl cms -verify -inform DER -in "$out/c.der" -CAfile "$PKI/signing-root.pem" -purpose any -out "$out/c.plist" 2>/dev/null
like "$(cat "$out/c.plist")" '<string>https://enroll.example.org/ota/enroll</string>' "an absolute OTAEnrollURL is kept"
is "$(db_count "select username from ota_challenge where username <> ''")" alice \
    "the challenge is bound to REMOTE_USER"
like "$(cat "$(dirname "$T_CONF")/access.log")" 'alice "GET /ota/user/profile HTTP/1.1" 200 .* phase=1' \
    "OTA_PHASE is exported to the access log"

apache_stop
log_clean OTA00010
done_testing
