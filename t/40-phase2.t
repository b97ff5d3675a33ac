#!/bin/bash
# Phase 2: a device posts its signed attributes and gets the SCEP payload.
# Every refusal has its own status and log id, and stores nothing.
. "$(dirname "$0")/lib.sh"

T_PORT_FIXED=$(free_port)
scep=http://127.0.0.1:$T_PORT_FIXED/ndes/mscep.dll
apache_start phase2 "$(ndes_like /ndes/mscep.dll "$PKI/signing-ca.pem")"'
<Location /ota/profile>
    SetHandler ota-profile-service
    OTAEnrollURL /ota/enroll
</Location>
<Location /ota/user-profile>
    SetHandler ota-profile-service
    OTAEnrollURL /ota/user-enroll
    AuthType Basic
    AuthName "Enrollment"
    AuthUserFile "'"$T_WORK"'/users"
    Require valid-user
</Location>
<LocationMatch "^/ota/(user-)?enroll$">
    SetHandler ota-enroll
    OTAEnrollMaxBodySize 8192
    OTAEnrollSCEPURL '"$scep"'
    OTAEnrollSCEPName ExampleCA
    OTAEnrollSCEPSubject "O=Example Inc./OU=%{PRODUCT}/CN=%{UDID}"
    OTAEnrollSCEPChallenge "static-ca-secret"
    OTAEnrollSCEPKeySize 2048
    OTAEnrollSCEPKeyUsage 5
    OTAEnrollSCEPRetries 4
    OTAEnrollSCEPRetryDelay 30
    OTAEnrollSCEPCACertificate "'"$PKI/signing-ca.pem"'"
    OTAEnrollGetCACaps POSTPKIOperation Renewal SHA-1
</LocationMatch>
<Location /ota/user-enroll>
    AuthType Basic
    AuthName "Enrollment"
    AuthUserFile "'"$T_WORK"'/users"
    Require valid-user
</Location>
'
ok $? "apache2 starts"

# ---- the emulator enrolls ----
out=$T_WORK/emu
run=$("$OTA_DEVICE" enroll --url "$(t_url /ota/profile)" --trust "$PKI/signing-root.pem" \
      --identity "$PKI/device.pem" --key "$PKI/device.key" --chain "$PKI/device-ca-chain.pem" \
      --emulate ios4 --stop-after phase2 --save-dir "$out" 2>&1)
ok $? "the emulated device completes phases 1 and 2"
like "$run" 'GetCACaps: from the payload, not asked' "with the list written in, iOS 4 does not ask the CA"
unlike "$run" 'static-ca-secret' "the emulator never prints the SCEP challenge"
check "openssl cms -verify accepts the phase-2 answer against the signing root" \
    openssl cms -verify -inform DER -in "$out/phase2.der" -CAfile "$PKI/signing-root.pem" \
        -purpose any -out "$T_WORK/answer.plist"
check "plistutil parses the phase-2 answer" plistutil -i "$T_WORK/answer.plist" -o "$T_WORK/answer.bin"
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

# ---- crafted requests ----
challenge() {   # challenge [CURL-ARGS]: a fresh challenge from phase 1
    local f=$T_WORK/c.der
    curl -s -o "$f" "$@"
    openssl cms -verify -inform DER -in "$f" -noverify 2>/dev/null | tr -d '\n\t' \
        | sed -n 's/.*<key>Challenge<\/key><string>\([^<]*\)<.*/\1/p'
}
attrs() {   # attrs UDID CHALLENGE [EXTRA-XML]: a device attribute plist
    printf '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">\n<dict>\n'
    [ -n "$1" ] && printf '\t<key>UDID</key>\n\t<string>%s</string>\n' "$1"
    [ -n "$2" ] && printf '\t<key>CHALLENGE</key>\n\t<string>%s</string>\n' "$2"
    printf '\t<key>PRODUCT</key>\n\t<string>iPhone3,1</string>\n%s</dict>\n</plist>\n' "${3:-}"
}
sign() {   # sign NAME IN OUT [ota-device sign options]: as device NAME
    local name=$1 in=$2 outf=$3
    shift 3
    "$OTA_DEVICE" sign --identity "$PKI/$name.pem" --key "$PKI/$name.key" \
        --chain "$PKI/device-ca-chain.pem" "$@" "$in" "$outf" >/dev/null 2>&1
}
post() {   # post FILE [CURL-ARGS]: the HTTP status of posting FILE
    local f=$1
    shift
    curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/pkcs7-signature' \
        --data-binary "@$f" "$@" "$(t_url /ota/enroll)"
}
state() {
    db_count "select (select count(*) from ota_challenge)||'/'||(select count(*) from ota_challenge where used is not null)||'/'||(select count(*) from ota_device)"
}
# refused NAME FILE STATUS ID [CURL-ARGS]: posting FILE gets STATUS, one
# log line with ID, and changes nothing in the database.
refused() {
    local name=$1 f=$2 want=$3 id=$4 before after got n0
    shift 4
    before=$(state)
    n0=$(log_count "$id")
    got=$(post "$f" "$@")
    sleep 0.05
    after=$(state)
    is "$got" "$want" "$name: HTTP $want"
    is "$(( $(log_count "$id") - n0 ))" 1 "$name: one $id log line"
    is "$after" "$before" "$name: nothing stored or consumed"
}
udid=6A1B2C3D-0000-4000-8000-00000000D001
w=$T_WORK/bodies
mkdir -p "$w"

c=$(challenge "$(t_url /ota/profile)")
attrs "$udid" "$c" >"$w/good.xml"
sign device "$w/good.xml" "$w/good.der"

: >"$w/empty"
refused "empty body" "$w/empty" 400 OTA00023
head -c 3000 /dev/urandom >"$w/noise"
refused "random bytes" "$w/noise" 400 OTA00023
refused "an unsigned plist" "$w/good.xml" 400 OTA00023
head -c 700 "$w/good.der" >"$w/truncated.der"
refused "DER truncated" "$w/truncated.der" 400 OTA00023
{ cat "$w/good.der"; printf 'trailing'; } >"$w/trailing.der"
refused "trailing bytes after the CMS" "$w/trailing.der" 400 OTA00023
openssl cms -encrypt -binary -outform DER -in "$w/good.xml" -out "$w/enveloped.der" "$PKI/device.pem" 2>/dev/null
refused "EnvelopedData instead of SignedData" "$w/enveloped.der" 400 OTA00024
openssl cms -sign -binary -outform DER -md sha1 -noattr -signer "$PKI/device.pem" -inkey "$PKI/device.key" \
    -certfile "$PKI/device-ca-chain.pem" -in "$w/good.xml" -out "$w/detached.der" 2>/dev/null
refused "detached signature" "$w/detached.der" 400 OTA00027
openssl cms -sign -binary -nodetach -outform DER -md sha1 -noattr -signer "$PKI/device.pem" -inkey "$PKI/device.key" \
    -certfile "$PKI/device-ca-chain.pem" -in "$w/good.der" -econtent_type pkcs7-signedData -out "$w/nested.der" 2>/dev/null
refused "nested SignedData" "$w/nested.der" 400 OTA00028
openssl cms -sign -binary -nodetach -outform DER -md sha1 -noattr -nocerts -signer "$PKI/device.pem" \
    -inkey "$PKI/device.key" -in "$w/good.xml" -out "$w/nocert.der" 2>/dev/null
refused "signer certificate missing" "$w/nocert.der" 400 OTA00029
sign device "$w/good.xml" "$w/md5.der" --digest md5
refused "MD5 digest" "$w/md5.der" 400 OTA00030
# Swap one character of the signed content (the UDID's last digit).
flip_at_match() {   # flip_at_match IN TEXT OUT: overwrite the first byte of TEXT
    local off
    off=$(grep -obUa -- "$2" "$1" | head -1 | cut -d: -f1)
    cp "$1" "$3"
    printf 'X' | dd of="$3" bs=1 seek="$off" conv=notrunc 2>/dev/null
}
flip_at_match "$w/good.der" "$udid" "$w/tampered.der"
refused "eContent changed under a valid signature" "$w/tampered.der" 400 OTA00031
len=$(stat -c %s "$w/good.der")
cp "$w/good.der" "$w/badsig.der"
printf '\x00' | dd of="$w/badsig.der" bs=1 seek=$((len - 10)) conv=notrunc 2>/dev/null
refused "flipped signature byte" "$w/badsig.der" 400 OTA00031
sign rsa512-device "$w/good.xml" "$w/rsa512.der"
refused "RSA-512 signer" "$w/rsa512.der" 403 OTA00032
sign selfsigned-device "$w/good.xml" "$w/selfsigned.der"
refused "self-signed signer" "$w/selfsigned.der" 403 OTA00033
sign ourca-device "$w/good.xml" "$w/ourca.der" --digest sha256
refused "signer from another CA" "$w/ourca.der" 403 OTA00033
sign rogue-leaf "$w/good.xml" "$w/rogue.der"
refused "leaf under the root, not through the device CA" "$w/rogue.der" 403 OTA00034
attrs "" "$c" >"$w/noudid.xml"; sign device "$w/noudid.xml" "$w/noudid.der"
refused "UDID missing" "$w/noudid.der" 400 OTA00035
attrs "$udid" "$c" '<key>PRODUCT</key><string>dup</string>' >"$w/dup.xml"; sign device "$w/dup.xml" "$w/dup.der"
refused "duplicate key" "$w/dup.der" 400 OTA00035
attrs "$udid" "$c" '<key>VERSION</key><integer>8</integer>' >"$w/type.xml"; sign device "$w/type.xml" "$w/type.der"
refused "wrong value type" "$w/type.der" 400 OTA00035
{ printf '<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY x "y">]><plist><dict><key>UDID</key><string>%s</string></dict></plist>' "$udid"; } >"$w/entity.xml"
sign device "$w/entity.xml" "$w/entity.der"
refused "DOCTYPE with entities" "$w/entity.der" 400 OTA00035
{ printf '<plist>'; for _ in $(seq 1 10000); do printf '<array>'; done; } >"$w/deep.xml"
sign device "$w/deep.xml" "$w/deep.der"
refused "plist nested 10,000 deep (over the body cap)" "$w/deep.der" 413 OTA00021
{ printf '<plist>'; for _ in $(seq 1 500); do printf '<array>'; done; } >"$w/deep2.xml"
sign device "$w/deep2.xml" "$w/deep2.der"
refused "plist nested 500 deep" "$w/deep2.der" 400 OTA00035
attrs "$udid" "" >"$w/nochallenge.xml"; sign device "$w/nochallenge.xml" "$w/nochallenge.der"
refused "CHALLENGE missing" "$w/nochallenge.der" 400 OTA00036
attrs "$udid" "not-a-challenge-we-issued" >"$w/unknown.xml"; sign device "$w/unknown.xml" "$w/unknown.der"
refused "unknown challenge" "$w/unknown.der" 403 OTA00037
head -c 9000 /dev/zero >"$w/big"
refused "body over OTAEnrollMaxBodySize" "$w/big" 413 OTA00021
refused "chunked body over OTAEnrollMaxBodySize" "$w/big" 413 OTA00021 -H 'Transfer-Encoding: chunked'

# Expired: the challenge's time runs out before it is used.
c2=$(challenge "$(t_url /ota/profile)")
attrs "$udid" "$c2" >"$w/expired.xml"; sign device "$w/expired.xml" "$w/expired.der"
d2=$(printf '%s' "$c2" | sha256sum | cut -d' ' -f1)
sqlite3 "$T_DB" "update ota_challenge set expires = created - 1 where digest = '$d2'"
refused "expired challenge" "$w/expired.der" 403 OTA00038

# The good body, then its replay.
code=$(post "$w/good.der")
is "$code" 200 "a crafted, well-signed body with a fresh challenge is accepted"
refused "replayed challenge" "$w/good.der" 403 OTA00039

# Another user's challenge: issued to alice, presented by bob.
c3=$(challenge -u alice:secret "$(t_url /ota/user-profile)")
attrs "$udid" "$c3" >"$w/alice.xml"; sign device "$w/alice.xml" "$w/alice.der"
before=$(state)
code=$(curl -s -o /dev/null -w '%{http_code}' -u bob:secret --data-binary "@$w/alice.der" "$(t_url /ota/user-enroll)")
is "$code" 403 "alice's challenge presented by bob: 403"
is "$(log_count OTA00040)" 1 "logged with OTA00040"
is "$(state)" "$before" "nothing consumed"
code=$(curl -s -o /dev/null -w '%{http_code}' -u alice:secret --data-binary "@$w/alice.der" "$(t_url /ota/user-enroll)")
is "$code" 200 "alice herself can use it"
is "$(db_count "select username from ota_device")" alice "the device is recorded as alice's"

# Methods.
headers=$(curl -s -D - -o /dev/null "$(t_url /ota/enroll)")
like "$headers" '^HTTP/1.1 405' "GET on ota-enroll is 405"
like "$headers" 'Allow: ([A-Z]+,)*POST' "with Allow naming POST"
is "$(log_count OTA00020)" 1 "logged with OTA00020"
unlike "$(cat "$T_LOG")" "static-ca-secret|$c|$c2|$c3" "no challenge or secret appears in the error log"

apache_stop
log_clean OTA00020 OTA00021 OTA00023 OTA00024 OTA00027 OTA00028 OTA00029 OTA00030 \
    OTA00031 OTA00032 OTA00033 OTA00034 OTA00035 OTA00036 OTA00037 OTA00038 OTA00039 OTA00040
done_testing
