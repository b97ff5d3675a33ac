#!/bin/bash
# Licensed under the Apache License, Version 2.0 (see LICENSE).
# `make demo`: a throwaway PKI, apache2 with mod_ssl and the module on
# embedded defaults (its built-in SCEP CA, sqlite3 through mod_dbd), and
# the device emulator enrolling through every phase built so far.
set -euo pipefail
. "$(dirname "$0")/../t/lib.sh"

say() { printf '\n== %s\n' "$*"; }

t_workdir ota-demo
trap t_cleanup EXIT
pki_build

# The site's standard locations over https, users alice and bob; the
# demo device is signed by the test chain shaped like Apple's (the
# launcher's OTAEnrollDeviceCA), the built-in CA is the test one.
T_SSL=1 apache_start demo "$(site_locations subject="O=OTA demo/CN=%{UDID}" \
    final="$T_TOP/demo/final.plist")"
say "apache2 with mod_ssl and mod_ota_enroll on $T_BASE"

say "An iOS 4 device enrolls (user alice)"
"$OTA_DEVICE" enroll --url "$(t_url /ota/profile)" \
    --user alice:secret --cacert "$PKI/signing-root.pem" --trust "$PKI/signing-root.pem" \
    --identity "$PKI/device.pem" --key "$PKI/device.key" \
    --chain "$PKI/device-ca-chain.pem" --emulate ios4 --save-dir "$T_WORK/device" \
    | tee "$T_WORK/emulator.out"

say "What the server logged"
grep -o 'OTA[0-9]\{5\}: .*' "$T_LOG" | sed 's/^/  /'

say "Summary"
grep -q 'RESULT: enrolled, final profile installed' "$T_WORK/emulator.out" \
    && result=passed || result=FAILED
cat <<SUMMARY
  phase 1  signed Profile Service payload for alice, challenge bound to her
  phase 2  device signature verified against the device CA, challenge
           redeemed once, SCEP payload signed and sent with the CA's own
           GetCACaps ($(sed -n 's/^ *GetCACaps: *//p' "$T_WORK/emulator.out" | head -1))
  SCEP     iOS 4 sent no GetCACaps request: the list in the payload answered
           it; the built-in CA issued $(openssl x509 -in "$T_WORK/device/device-cert.pem" -noout -subject 2>/dev/null | sed 's/^subject=//')
           against the one-time challenge bound to that subject
  phase 3  signed by that certificate; the final profile (Wi-Fi for alice,
           a web clip naming the device) came back encrypted to it alone
           and signed: $(grep -c '^  payload' "$T_WORK/emulator.out") payloads decrypted with the device key
  result   $result
SUMMARY
[ "$result" = passed ]
