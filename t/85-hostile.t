#!/bin/bash
# Hostile input against every endpoint. Each case asserts the HTTP status
# (or the SCEP FAILURE reason), exactly one log line with its stable id,
# and that nothing was stored and no challenge consumed.
. "$(dirname "$0")/lib.sh"
t_setup

T_PORT_FIXED=$(free_port)
base=http://127.0.0.1:$T_PORT_FIXED
# /ota for anyone, /ota/user for authenticated users; /static-scep: the
# built-in CA with a static challenge; /ota/big: a body cap of 1 MiB.
apache_start hostile "
Timeout 3
$(site_locations auth=none subject='CN=%{UDID}' final="$T_TOP/t/fixtures/profiles/payloads.plist" \
    enroll_extra="OTAEnrollMaxBodySize 8192")
$(site_locations prefix=/ota/user scep=off scep_url="$base/ota/scep" subject='CN=%{UDID}' \
    enroll_extra="$(auth_basic)")
<Location /static-scep>
    SetHandler ota-scep
    OTAEnrollSCEPChallenge static-secret
</Location>
<Location /ota/big>
    SetHandler ota-enroll
    OTAEnrollMaxBodySize 1048576
    OTAEnrollSCEPURL $base/ota/scep
</Location>
"
ok $? "apache2 starts"

udid=6A1B2C3D-0000-4000-8000-00000000D001
w=$T_WORK/bodies
signed_attrs good "$udid" "$base/ota/profile"
c=$CHALLENGE
enrollment=/ota/enroll

# ---- the body: size, method, transport ----
: >"$w/empty"
refused "empty body" $enrollment "$w/empty" 400 OTA00023
head -c 9000 /dev/zero >"$w/big"
refused "body over OTAEnrollMaxBodySize" $enrollment "$w/big" 413 OTA00021
refused "chunked body over OTAEnrollMaxBodySize" $enrollment "$w/big" 413 OTA00021 \
    -H 'Transfer-Encoding: chunked'
refused "Content-Length over the cap, body not sent" $enrollment "$w/empty" 413 OTA00021 \
    -H 'Content-Length: 100000' --max-time 3
before=$(db_state)
n0=$(log_count OTA00022)
code=$( (printf 'POST /ota/enroll HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n'; \
         head -c 100 "$w/good.der"; sleep 5) | timeout 8 curl -s -o /dev/null -w '%{http_code}' \
         telnet://127.0.0.1:$T_PORT_FIXED 2>/dev/null | head -c 3)
n1=$(log_count OTA00022)
is "$((n1 - n0))" 1 "a slow body (stalls past Timeout): one OTA00022 line"
is "$(db_state)" "$before" "a slow body: nothing stored"
for m in GET PUT DELETE; do
    n0=$(log_count OTA00020)
    is "$(curl -s -o /dev/null -w '%{http_code}' -X $m "$base$enrollment")" 405 "$m on ota-enroll: 405"
    is "$(( $(log_count OTA00020) - n0 ))" 1 "$m on ota-enroll: one OTA00020 line"
done
n0=$(log_count OTA00010)
is "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data x "$base/ota/profile")" 405 "POST on the profile service: 405"
is "$(( $(log_count OTA00010) - n0 ))" 1 "one OTA00010 line"

# ---- DER and BER ----
head -c 3000 /dev/urandom >"$w/noise"
refused "random bytes" $enrollment "$w/noise" 400 OTA00023
refused "an unsigned plist" $enrollment "$w/good.xml" 400 OTA00023
len=$(stat -c %s "$w/good.der")
for cut in 1 2 10 100 700 $((len / 2)) $((len - 200)) $((len - 1)); do
    head -c "$cut" "$w/good.der" >"$w/cut.der"
    refused "DER truncated at $cut of $len bytes" $enrollment "$w/cut.der" 400 OTA00023
done
{ cat "$w/good.der"; printf 'trailing'; } >"$w/trailing.der"
refused "trailing bytes after the CMS" $enrollment "$w/trailing.der" 400 OTA00023
printf '\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02\xa0\x80\x30\x80' >"$w/ber-open.der"
refused "BER indefinite lengths never closed" $enrollment "$w/ber-open.der" 400 OTA00023
printf '\x30\x84\xff\xff\xff\xff\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02' >"$w/ber-huge.der"
refused "BER length of 4 GiB" $enrollment "$w/ber-huge.der" 400 OTA00023
{ printf '\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02\xa0\x80'
  for _ in $(seq 1 2000); do printf '\x24\x80'; done; } >"$w/ber-nest.der"
refused "BER constructed strings nested 2,000 deep" $enrollment "$w/ber-nest.der" 400 OTA00023
refused "a real phase-2 body (BER) with its end cut" $enrollment \
    <(head -c 4800 "$T_TOP/t/fixtures/apple-real/phase2-macos13-zentral.der") 400 OTA00023

# ---- CMS shapes ----
openssl cms -encrypt -binary -outform DER -in "$w/good.xml" -out "$w/enveloped.der" "$PKI/device.pem" 2>/dev/null
refused "EnvelopedData instead of SignedData" $enrollment "$w/enveloped.der" 400 OTA00024
openssl crl2pkcs7 -nocrl -certfile "$PKI/device.pem" -outform DER -out "$w/certsonly.der" 2>/dev/null
refused "a certificates-only SignedData (no signer, no content)" $enrollment "$w/certsonly.der" 400 OTA00027
openssl cms -sign -binary -outform DER -md sha1 -noattr -signer "$PKI/device.pem" -inkey "$PKI/device.key" \
    -certfile "$PKI/device-ca-chain.pem" -in "$w/good.xml" -out "$w/detached.der" 2>/dev/null
refused "detached signature" $enrollment "$w/detached.der" 400 OTA00027
openssl cms -sign -binary -nodetach -outform DER -md sha1 -noattr -signer "$PKI/device.pem" -inkey "$PKI/device.key" \
    -certfile "$PKI/device-ca-chain.pem" -in "$w/good.der" -econtent_type pkcs7-signedData -out "$w/nested.der" 2>/dev/null
refused "nested SignedData" $enrollment "$w/nested.der" 400 OTA00028
openssl cms -sign -binary -nodetach -outform DER -md sha1 -noattr -nocerts -signer "$PKI/device.pem" \
    -inkey "$PKI/device.key" -in "$w/good.xml" -out "$w/nocert.der" 2>/dev/null
refused "signer certificate missing" $enrollment "$w/nocert.der" 400 OTA00029
openssl cms -sign -binary -nodetach -outform DER -md sha1 -noattr -signer "$PKI/device.pem" -inkey "$PKI/device.key" \
    -signer "$PKI/device2.pem" -inkey "$PKI/device2.key" -certfile "$PKI/device-ca-chain.pem" \
    -in "$w/good.xml" -out "$w/two.der" 2>/dev/null
refused "two signers" $enrollment "$w/two.der" 400 OTA00026
device_sign device "$w/good.xml" "$w/md5.der" --digest md5
refused "MD5 digest" $enrollment "$w/md5.der" 400 OTA00030
# eContent swapped under a valid SignerInfo (signed attributes: the
# messageDigest no longer matches).
device_attrs "$udid" "$c" >"$w/a.xml"
sed "s/iPhone3,1/iPhone9,9/" "$w/a.xml" >"$w/b.xml"
device_sign device "$w/a.xml" "$w/a.der" --attributes
device_sign device "$w/b.xml" "$w/b.der" --attributes
off=$(grep -obUa 'iPhone3,1' "$w/a.der" | head -1 | cut -d: -f1)
cp "$w/a.der" "$w/swapped.der"
printf 'iPhone9,9' | dd of="$w/swapped.der" bs=1 seek="$off" conv=notrunc 2>/dev/null
refused "eContent swapped under a valid SignerInfo" $enrollment "$w/swapped.der" 400 OTA00031
cp "$w/good.der" "$w/badsig.der"
printf '\x00' | dd of="$w/badsig.der" bs=1 seek=$((len - 10)) conv=notrunc 2>/dev/null
refused "flipped signature byte" $enrollment "$w/badsig.der" 400 OTA00031

# ---- signers ----
device_sign rsa512-device "$w/good.xml" "$w/rsa512.der"
refused "RSA-512 signer" $enrollment "$w/rsa512.der" 403 OTA00032
device_sign selfsigned-device "$w/good.xml" "$w/selfsigned.der"
refused "self-signed signer" $enrollment "$w/selfsigned.der" 403 OTA00033
device_sign rogue-leaf "$w/good.xml" "$w/rogue.der"
refused "leaf under the root, not issued through the device CA" $enrollment "$w/rogue.der" 403 OTA00034
"$OTA_DEVICE" sign --identity "$PKI/device.pem" --key "$PKI/device.key" "$w/good.xml" "$w/leafonly.der" >/dev/null 2>&1
is "$(post_body /ota/big "$w/leafonly.der")" 200 "(control) only the leaf, chain from the server: accepted"
signed_attrs good "$udid" "$base/ota/profile"
c=$CHALLENGE

# ---- the property list ----
sign_refused() {   # sign_refused NAME XML-FILE [PATH]: 400, OTA00035
    device_sign device "$2" "$w/x.der"
    refused "$1" "${3:-$enrollment}" "$w/x.der" 400 OTA00035
}
printf 'bplist00\xd1\x01\x02TUDIDT1234\x08\x0b\x10\x00\x00\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x15' >"$w/binary.plist"
sign_refused "binary plist" "$w/binary.plist"
device_attrs "" "$c" >"$w/x.xml"; sign_refused "UDID missing" "$w/x.xml"
device_attrs "not a udid" "$c" >"$w/x.xml"; sign_refused "UDID malformed" "$w/x.xml"
device_attrs "$udid" "$c" '<key>PRODUCT</key><string>dup</string>' >"$w/x.xml"
sign_refused "duplicate key" "$w/x.xml"
device_attrs "$udid" "$c" '<key >PRODUCT</key><string>dup</string>' >"$w/x.xml"
sign_refused "duplicate key spelled <key >" "$w/x.xml"
device_attrs "$udid" "$c" '<key>udid</key><string>00000000</string>' >"$w/x.xml"
sign_refused "keys differing only in case" "$w/x.xml"
device_attrs "$udid" "$c" '<key>VERSION</key><integer>8</integer>' >"$w/x.xml"
sign_refused "wrong value type" "$w/x.xml"
device_attrs "$udid" "$c" '<key>SERIAL</key><dict/>' >"$w/x.xml"
sign_refused "a dict where a string belongs" "$w/x.xml"
device_attrs "$udid" "$c" "<key>SERIAL</key><string>$(head -c 300 /dev/zero | tr '\0' A)</string>" >"$w/x.xml"
sign_refused "oversized string" "$w/x.xml"
device_attrs "$udid" "$c" "<key>SERIAL</key><string>a$(printf '\x01')b</string>" >"$w/x.xml"
sign_refused "a control character in a value" "$w/x.xml"
printf '<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY x "y">]><plist><dict><key>UDID</key><string>%s</string></dict></plist>' "$udid" >"$w/x.xml"
sign_refused "DOCTYPE with an internal subset and entities" "$w/x.xml"
printf '<?xml version="1.0"?><plist><dict><key>UDID</key><string><![CDATA[%s]]></string></dict></plist>' "$udid" >"$w/x.xml"
sign_refused "CDATA" "$w/x.xml"
{ printf '<plist>'; for _ in $(seq 1 500); do printf '<array>'; done; } >"$w/x.xml"
sign_refused "plist nested 500 deep" "$w/x.xml"
for depth in 10000 100000; do
    { printf '<plist>'; head -c $((depth * 7)) /dev/zero | sed 's/\x00\x00\x00\x00\x00\x00\x00/<array>/g'; } >"$w/deep.xml"
    device_sign device "$w/deep.xml" "$w/deep.der"
    t0=$(date +%s%N)
    refused "plist nested $depth deep" /ota/big "$w/deep.der" 400 OTA00035
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    [ "$ms" -lt 3000 ]
    ok $? "plist nested $depth deep: refused quickly (${ms} ms, bound 3 s), no crash"
done

# ---- challenges ----
device_attrs "$udid" "" >"$w/x.xml"; device_sign device "$w/x.xml" "$w/x.der"
refused "CHALLENGE missing" $enrollment "$w/x.der" 400 OTA00036
device_attrs "$udid" "not-a-challenge-we-issued" >"$w/x.xml"; device_sign device "$w/x.xml" "$w/x.der"
refused "unknown challenge" $enrollment "$w/x.der" 403 OTA00037
c2=$(challenge_of "$base/ota/profile")
device_attrs "$udid" "$c2" >"$w/x.xml"; device_sign device "$w/x.xml" "$w/exp.der"
sqlite3 "$T_DB" "update ota_challenge set expires = created - 1 where digest = '$(printf '%s' "$c2" | sha256sum | cut -d' ' -f1)'"
refused "expired challenge" $enrollment "$w/exp.der" 403 OTA00038
is "$(post_body $enrollment "$w/good.der")" 200 "(control) the good body"
refused "replayed challenge" $enrollment "$w/good.der" 403 OTA00039
c3=$(challenge_of "$base/ota/user/profile" -u alice:secret)
device_attrs "$udid" "$c3" >"$w/x.xml"; device_sign device "$w/x.xml" "$w/alice.der"
refused "another user's challenge" /ota/user/enroll "$w/alice.der" 403 OTA00040 -u bob:secret

# ---- phase 3 signers ----
device_attrs "$udid" "" >"$w/p3.xml"
"$OTA_DEVICE" sign --identity "$PKI/ourca-device.pem" --key "$PKI/ourca-device.key" --digest sha256 \
    "$w/p3.xml" "$w/p3.der" >/dev/null 2>&1
refused "phase 3 by a certificate the registry does not know" $enrollment "$w/p3.der" 403 OTA00084
"$OTA_DEVICE" sign --identity "$PKI/ourca-device.pem" --key "$PKI/ourca-device.key" --digest sha1 \
    "$w/p3.xml" "$w/p3sha1.der" >/dev/null 2>&1
refused "phase 3 signed with SHA-1 (strict store)" $enrollment "$w/p3sha1.der" 400 OTA00030

# ---- SCEP ----
scep_refused_at() {   # scep_refused_at URL NAME FAILINFO ID SCEP-ARGS...
    local url=$1 name=$2 want=$3 id=$4 before n0 out
    shift 4
    before=$(db_state)
    n0=$(log_count "$id")
    out=$("$OTA_DEVICE" scep --url "$url" "$@" 2>&1)
    like "$out" "failInfo: $want" "SCEP $name: FAILURE $want"
    is "$(( $(log_count "$id") - n0 ))" 1 "SCEP $name: one $id line"
    is "$(db_state)" "$before" "SCEP $name: nothing stored or consumed"
}
scep_refused() {   # scep_refused NAME FAILINFO ID SCEP-ARGS...
    scep_refused_at "$base/ota/scep" "$@"
}
http_refused() {   # http_refused NAME URL STATUS ID [CURL-ARGS]
    local name=$1 url=$2 want=$3 id=$4 before n0
    shift 4
    before=$(db_state)
    n0=$(log_count "$id")
    is "$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url")" "$want" "$name: HTTP $want"
    is "$(( $(log_count "$id") - n0 ))" 1 "$name: one $id line"
    is "$(db_state)" "$before" "$name: nothing stored or consumed"
}
http_refused "SCEP bad base64" "$base/ota/scep?operation=PKIOperation&message=%%%%" 400 OTA00072
http_refused "SCEP GET without message" "$base/ota/scep?operation=PKIOperation" 400 OTA00072
http_refused "SCEP unknown operation" "$base/ota/scep?operation=Bogus" 400 OTA00062
http_refused "SCEP random bytes by POST" "$base/ota/scep?operation=PKIOperation" 400 OTA00063 \
    --data-binary "@$w/noise"
http_refused "SCEP PUT" "$base/ota/scep?operation=GetCACaps" 405 OTA00061 -X PUT
scep_refused "MD5" badAlg OTA00063 --digest md5 --challenge x --subject /CN=x
scep_refused "single DES" badAlg OTA00063 --cipher des --challenge x --subject /CN=x
scep_refused "3DES not among the capabilities" badAlg OTA00063 --cipher des3 --challenge x --subject /CN=x
scep_refused "SHA-1 not among the capabilities" badAlg OTA00063 --digest sha1 --challenge x --subject /CN=x
scep_refused "no challenge" badRequest OTA00065 --subject /CN=x
scep_refused "unknown challenge" badRequest OTA00065 --challenge nope --subject /CN=x
scep_static() {   # as scep_refused, against the CA with a static challenge
    scep_refused_at "$base/static-scep" "$@"
}
scep_static "wrong static challenge" badRequest OTA00066 --challenge wrong --subject /CN=x
scep_static "a CSR for another key than the signer's" badRequest OTA00067 \
    --csr-key "$PKI/ourca-device.key" --challenge static-secret --subject /CN=x
scep_refused "poll for an unknown transaction" badCertId OTA00070 --type poll --subject /CN=x \
    --transaction-id NEVER
"$OTA_DEVICE" scep --url "$base/ota/scep" --challenge x --subject /CN=x --save-request "$w/scep.der" >/dev/null 2>&1
slen=$(stat -c %s "$w/scep.der")
cp "$w/scep.der" "$w/scep-bad.der"
printf '\x00\x00\x00\x00' | dd of="$w/scep-bad.der" bs=1 seek=$((slen - 40)) conv=notrunc 2>/dev/null
http_refused "SCEP tampered signature" "$base/ota/scep?operation=PKIOperation" 200 OTA00063 --data-binary "@$w/scep-bad.der"
head -c 400 "$w/scep.der" >"$w/scep-cut.der"
http_refused "SCEP truncated" "$base/ota/scep?operation=PKIOperation" 400 OTA00063 --data-binary "@$w/scep-cut.der"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$w/o.key" -subj /CN=o -days 1 -out "$w/o.pem" 2>/dev/null
before=$(db_state)
n0=$(log_count OTA00063)
"$OTA_DEVICE" scep --url "$base/ota/scep" --cacert "$w/o.pem" --challenge x --subject /CN=x >/dev/null 2>&1
like "$(grep OTA00063 "$T_LOG" | tail -1)" 'badMessageCheck' "SCEP enveloped to the wrong recipient: badMessageCheck"
is "$(( $(log_count OTA00063) - n0 ))" 1 "SCEP wrong recipient: one OTA00063 line"
is "$(db_state)" "$before" "SCEP wrong recipient: nothing stored"
# A dynamic challenge, then a CSR with a weak key or a foreign subject.
c4=$(challenge_of "$base/ota/profile")
device_attrs "6A1B2C3D-0000-4000-8000-00000000D002" "$c4" >"$w/x.xml"
device_sign device2 "$w/x.xml" "$w/d2.der"
post_body $enrollment "$w/d2.der" >/dev/null
openssl cms -verify -inform DER -in "$T_WORK/post.out" -noverify 2>/dev/null | tr -d '\n\t' >"$w/d2.plist"
sc=$(sed -n 's/.*<key>Challenge<\/key><string>\([^<]*\)<.*/\1/p' "$w/d2.plist")
scep_refused "CSR with a foreign subject" badRequest OTA00067 --challenge "$sc" --subject /CN=FOREIGN
scep_refused "CSR with an RSA-1024 key" badAlg OTA00063 --keysize 1024 --challenge "$sc" \
    --subject /CN=6A1B2C3D-0000-4000-8000-00000000D002
"$OTA_DEVICE" scep --url "$base/ota/scep" --challenge "$sc" --subject /CN=6A1B2C3D-0000-4000-8000-00000000D002 \
    --save-request "$w/ok.der" >/dev/null 2>&1
is "$?" 0 "(control) the right CSR: SUCCESS"
before=$(db_state)
out=$("$OTA_DEVICE" scep --url "$base/ota/scep" --send "$w/ok.der" 2>&1)
like "$out" 'failInfo: badRequest' "SCEP replay: FAILURE badRequest"
like "$(grep -E 'OTA0006[45]' "$T_LOG" | tail -1)" 'transaction already has a certificate' "SCEP replay: logged"
is "$(db_state)" "$before" "SCEP replay: no second certificate"

apache_stop
log_clean OTA00010 OTA00020 OTA00021 OTA00022 OTA00023 OTA00024 OTA00026 OTA00027 OTA00028 \
    OTA00029 OTA00030 OTA00031 OTA00032 OTA00033 OTA00034 OTA00035 OTA00036 OTA00037 OTA00038 \
    OTA00039 OTA00040 OTA00061 OTA00062 OTA00063 OTA00064 OTA00065 OTA00066 OTA00067 OTA00070 \
    OTA00072 OTA00084
done_testing
