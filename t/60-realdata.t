#!/bin/bash
# Real Apple data: a phase-2 body captured from a macOS 13 machine is
# accepted for its signature and chain, and refused only for its challenge,
# which this server never issued.
. "$(dirname "$0")/lib.sh"
t_setup

fixture=$T_TOP/t/fixtures/apple-real/phase2-macos13-zentral.der
apple=$T_TOP/apple/apple-device-ca-chain.pem

out=$("$OTA_DEVICE" inspect "$fixture" --device-ca "$apple" 2>&1)
ok $? "inspect accepts the real body against Apple's chain"
like "$out" 'VERDICT: ok' "verdict ok"
like "$out" 'Apple iPhone Device CA' "the chain passes through Apple iPhone Device CA"
like "$out" 'Apple Root CA' "up to Apple Root CA"
like "$out" 'SHA1' "the real body uses SHA-1"
like "$out" '78897E40-F532-5DE0-A7DC-56BAC5CEEB9C' "its UDID is read"
like "$out" 'VirtualMac2,1' "its PRODUCT is read"
like "$out" 'UserShortName' "macOS user attributes are read"
like "$out" 'CHALLENGE: <present, 64 chars>' "the challenge is reported, not printed"
unlike "$out" '8gLEIttrT7qb' "the challenge value is not printed"

out=$("$OTA_DEVICE" inspect "$fixture" --device-ca "$PKI/device-ca-chain.pem" 2>&1)
[ $? -ne 0 ]
ok $? "inspect refuses it against another device CA"
like "$out" 'VERDICT: untrusted' "as untrusted"

apache_start real "$(site_locations profile=off scep=off subject= scep_url=https://ca.example.com/scep \
    enroll_extra="OTAEnrollDeviceCA \"$apple\"
OTAEnrollGetCACaps off")"
ok $? "apache2 starts with Apple's real device CA chain"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/pkcs7-signature' \
       --data-binary "@$fixture" "$(t_url /ota/enroll)")
is "$code" 403 "the handler answers the real body 403"
is "$(log_count OTA00037)" 1 "for its foreign challenge only (OTA00037)"
is "$(grep -c 'OTA000[23][0-9]' "$T_LOG")" 1 "and for no signature, chain or attribute reason"
like "$(grep OTA00037 "$T_LOG")" '78897E40-F532-5DE0-A7DC-56BAC5CEEB9C' "the log names the device"
is "$(db_count 'select count(*) from ota_device')" 0 "nothing is recorded"
apache_stop
log_clean OTA00037
done_testing
