#!/bin/bash
# Licensed under the Apache License, Version 2.0 (see LICENSE).
# `make demo`: a throwaway PKI, apache2 with mod_ssl and the module on
# embedded defaults (its built-in SCEP CA, sqlite3 through mod_dbd), and
# the device emulator enrolling through every phase built so far.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ota-demo.XXXXXX")
chmod 755 "$work"
pki=$top/build/pki
modules=$(apxs -q LIBEXECDIR)
httpd_pid=

stop() {
    [ -n "$httpd_pid" ] && kill "$httpd_pid" 2>/dev/null
    sleep 0.3
    rm -rf "$work"
}
trap stop EXIT

port() {
    local p
    while :; do
        # below the ephemeral range: a client's source port there
        # would make apache2's bind fail
        p=$((10000 + RANDOM % ($(cut -f1 /proc/sys/net/ipv4/ip_local_port_range) - 10000)))
        (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}

say() { printf '\n== %s\n' "$*"; }

bash "$top/t/pki.sh" "$pki"
https_port=$(port)

cp "$pki/signing-ca.pem" "$work/ca.pem"
cp "$pki/signing-ca.key" "$work/ca.key"

mkdir -p "$work/db"
user_lines=
if [ "$(id -u)" -eq 0 ]; then
    chown nobody:nogroup "$work/db"
    user_lines=$'User nobody\nGroup nogroup'
fi
htpasswd -cb "$work/users" alice demo >/dev/null 2>&1
chmod 644 "$work/users"
cat >"$work/httpd.conf" <<CONF
ServerRoot "$work"
ServerName 127.0.0.1
Listen 127.0.0.1:$https_port
PidFile "$work/httpd.pid"
DefaultRuntimeDir "$work"
ErrorLog "$work/error.log"
LogLevel info
$user_lines
LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule authn_core_module $modules/mod_authn_core.so
LoadModule authn_file_module $modules/mod_authn_file.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule authz_user_module $modules/mod_authz_user.so
LoadModule auth_basic_module $modules/mod_auth_basic.so
LoadModule socache_shmcb_module $modules/mod_socache_shmcb.so
LoadModule ssl_module $modules/mod_ssl.so
LoadModule dbd_module $modules/mod_dbd.so
LoadModule ota_enroll_module $top/mod_ota_enroll.so
DocumentRoot "$work"
SSLEngine on
SSLCertificateFile "$pki/server-chain.pem"
SSLCertificateKeyFile "$pki/server.key"
DBDriver sqlite3
DBDParams "$work/db/ota.db"

OTAEnrollSigningCertificate "$pki/signing-chain.pem"
OTAEnrollSigningKey "$pki/signing.key"
# The demo device is signed by a test chain shaped like Apple's.
OTAEnrollDeviceCA "$pki/device-ca-chain.pem"

<Location /ota/profile>
    SetHandler ota-profile-service
    AuthType Basic
    AuthName "Device enrollment"
    AuthUserFile "$work/users"
    Require valid-user
    OTAEnrollURL /ota/enroll
</Location>
<Location /ota/enroll>
    SetHandler ota-enroll
    OTAEnrollSCEPURL https://127.0.0.1:$https_port/ota/scep
    OTAEnrollSCEPSubject "O=OTA demo/CN=%{UDID}"
    OTAEnrollProfile "$top/demo/final.plist"
</Location>
# The built-in SCEP CA (a throwaway one here).
OTAEnrollCACertificate "$work/ca.pem"
OTAEnrollCAKey "$work/ca.key"
<Location /ota/scep>
    SetHandler ota-scep
</Location>
CONF
say "apache2 with mod_ssl and mod_ota_enroll on https://127.0.0.1:$https_port"
apache2 -d "$work" -f "$work/httpd.conf" -k start
for _ in $(seq 1 50); do
    [ -f "$work/httpd.pid" ] && curl -sk -o /dev/null "https://127.0.0.1:$https_port/" && break
    sleep 0.1
done
httpd_pid=$(cat "$work/httpd.pid")

say "An iOS 4 device enrolls (user alice)"
"$top/build/ota-device" enroll --url "https://127.0.0.1:$https_port/ota/profile" \
    --user alice:demo --cacert "$pki/signing-root.pem" --trust "$pki/signing-root.pem" \
    --identity "$pki/device.pem" --key "$pki/device.key" \
    --chain "$pki/device-ca-chain.pem" --emulate ios4 --save-dir "$work/device" \
    | tee "$work/emulator.out"

say "What the server logged"
grep -o 'OTA[0-9]\{5\}: .*' "$work/error.log" | sed 's/^/  /'

say "Summary"
grep -q 'RESULT: enrolled, final profile installed' "$work/emulator.out" \
    && result=passed || result=FAILED
cat <<SUMMARY
  phase 1  signed Profile Service payload for alice, challenge bound to her
  phase 2  device signature verified against the device CA, challenge
           redeemed once, SCEP payload signed and sent with the CA's own
           GetCACaps ($(sed -n 's/^ *GetCACaps: *//p' "$work/emulator.out" | head -1))
  SCEP     iOS 4 sent no GetCACaps request: the list in the payload answered
           it; the built-in CA issued $(openssl x509 -in "$work/device/device-cert.pem" -noout -subject 2>/dev/null | sed 's/^subject=//')
           against the one-time challenge bound to that subject
  phase 3  signed by that certificate; the final profile (Wi-Fi for alice,
           a web clip naming the device) came back encrypted to it alone
           and signed: $(grep -c '^  payload' "$work/emulator.out") payloads decrypted with the device key
  result   $result
SUMMARY
[ "$result" = passed ]
