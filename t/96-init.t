#!/bin/bash
# `ota-enroll init`: what it makes, that it never overwrites without
# --force, and that apache2 takes it as the Debian package lays it out:
# the module-wide conf/ota_enroll.conf, then conf/site.conf included in a
# TLS virtual host (their /etc and /var paths pointed at the test's). A
# device then enrolls through every phase against the CA, signing
# identity and final profile that init made.
. "$(dirname "$0")/lib.sh"
t_setup ota-init

ADMIN=$T_BUILD/ota-enroll
dir=$T_WORK/etc
port=$(free_port)
url=https://localhost:$port

mode_of() { stat -c '%a' "$1" 2>/dev/null; }
sum_of() { cat "$dir"/* 2>/dev/null | sha256sum | cut -d' ' -f1; }

# ---- init ----
out=$("$ADMIN" init --dir "$dir" --url "$url" --organization "Example Inc." 2>&1)
ok $? "init --dir makes a fresh set"
for f in signing-chain.pem signing.key ca.pem ca.key users admins \
         final.mobileconfig settings.conf; do
    [ -f "$dir/$f" ] || missing="${missing:-} $f"
done
is "${missing:-}" "" "every file site.conf names is there"
is "$(mode_of "$dir/ca.key")/$(mode_of "$dir/signing.key")" "600/600" \
    "the keys are readable by their owner only"
if [ "$(id -u)" -eq 0 ]; then
    is "$(stat -c '%a %U:%G' "$dir/users")" "640 root:www-data" \
        "users: readable by the Apache group only"
else
    is "$(mode_of "$dir/users")" "644" "users: readable (no group to give)"
fi
has "$out" 'Not Verified' "it says devices show a self-signed signer as Not Verified"
has "$out" 'Include /etc/apache2/ota-enroll/site.conf' "it prints the Include line"
has "$out" "htpasswd $dir/users" "it prints how to add a user"
like "$(openssl x509 -in "$dir/ca.pem" -noout -text)" \
    'CA:TRUE, pathlen:0' "the CA certificate is a CA"
like "$(openssl x509 -in "$dir/ca.pem" -noout -text)" \
    'Certificate Sign, CRL Sign' "and may sign certificates and CRLs"
like "$(openssl x509 -in "$dir/ca.pem" -noout -subject)" \
    'O = Example Inc., CN = Example Inc. device CA' "the CA names the organization"
like "$(openssl x509 -in "$dir/signing-chain.pem" -noout -text)" \
    'CA:FALSE' "the signer is not a CA"
check "the self-signed signer verifies as its own root" \
    openssl verify -CAfile "$dir/signing-chain.pem" "$dir/signing-chain.pem"
has "$(cat "$dir/settings.conf")" "OTAEnrollSCEPURL $url/ota/scep" \
    "settings.conf: the SCEP URL on this host and port"
has "$(cat "$dir/settings.conf")" 'OTAEnrollSCEPSubject "O=Example Inc./CN=%{UDID}"' \
    "settings.conf: the subject names the organization"

# ---- never overwrites without --force ----
before=$(sum_of)
out=$("$ADMIN" init --dir "$dir" --url "$url" 2>&1)
is "$?" 2 "a second init refuses (exit 2)"
has "$out" "$dir/ca.key exists" "it names what exists"
is "$(sum_of)" "$before" "and changes nothing"
rm "$dir/users"
"$ADMIN" init --dir "$dir" --url "$url" >/dev/null 2>&1
is "$?" 2 "one file missing: still refused"
[ ! -e "$dir/users" ]
ok $? "nothing written then either"
: >"$dir/users"
old_ca=$(openssl x509 -in "$dir/ca.pem" -noout -fingerprint)
"$ADMIN" init --dir "$dir" --url "$url" --organization "Example Inc." --force >/dev/null 2>&1
ok $? "--force overwrites"
[ "$(openssl x509 -in "$dir/ca.pem" -noout -fingerprint)" != "$old_ca" ]
ok $? "with a new CA"
is "$(ls -A "$dir" | grep -c '^\.')" 0 "no staged file left behind"

# ---- the site's own signing identity ----
site=$T_WORK/site
out=$("$ADMIN" init --dir "$site" --url "$url" --signing-cert "$PKI/signing-chain.pem" \
      --signing-key "$PKI/signing.key" 2>&1)
ok $? "--signing-cert/--signing-key take the site's identity"
is "$(grep -c 'BEGIN CERTIFICATE' "$site/signing-chain.pem")" \
    "$(grep -c 'BEGIN CERTIFICATE' "$PKI/signing-chain.pem")" "its chain is copied"
unlike "$out" 'Not Verified' "no Not Verified note then"
out=$("$ADMIN" init --dir "$T_WORK/bad" --url "$url" --signing-cert "$PKI/signing-chain.pem" \
      --signing-key "$PKI/device.key" 2>&1)
is "$?" 3 "a key that does not match is refused (exit 3)"
has "$out" "does not match" "with the reason"
is "$(ls -A "$T_WORK/bad" 2>/dev/null)" "" "and nothing written"
"$ADMIN" init --dir "$T_WORK/bad" --url "http://localhost" >/dev/null 2>&1
is "$?" 1 "a plain-HTTP URL is refused"
"$ADMIN" init --dir "$T_WORK/bad" --url "$url" --organization 'A "quoted" name' >/dev/null 2>&1
is "$?" 1 "an organization that would break the configuration is refused"

# ---- apache2 with the files init made, laid out as the package does ----
cfg=$T_WORK/httpd
state=$T_WORK/state
mkdir -p "$cfg" "$state"
chmod 755 "$cfg"
[ "$(id -u)" -ne 0 ] || chown www-data:www-data "$state"
sed "s|/var/lib/ota-enroll|$state|" "$T_TOP/conf/ota_enroll.conf" >"$cfg/mod.conf"
sed "s|/etc/apache2/ota-enroll|$dir|g" "$T_TOP/conf/site.conf" >"$cfg/site.conf"
T_CONF=$cfg/httpd.conf
T_LOG=$cfg/error.log
cat >"$T_CONF" <<CONF
$(T_LOGLEVEL=info conf_head "$cfg" "$port" localhost www-data:www-data)
Define APACHE_LOG_DIR $cfg
$(load_modules mpm_event authn_core authn_file authz_core authz_user auth_basic socache_shmcb ssl dbd)
LoadModule ota_enroll_module $T_TOP/mod_ota_enroll.so
Include "$cfg/mod.conf"
DocumentRoot "$cfg"
SSLSessionCache "shmcb:$cfg/ssl_scache(512000)"
<VirtualHost 127.0.0.1:$port>
    ServerName localhost
    SSLEngine on
    SSLCertificateFile "$PKI/server-chain.pem"
    SSLCertificateKeyFile "$PKI/server.key"
    Include "$cfg/site.conf"
    # the test devices chain to the test PKI's Apple-like CA
    OTAEnrollDeviceCA "$PKI/device-ca-chain.pem"
</VirtualHost>
CONF
out=$(apache2 -d "$cfg" -f "$T_CONF" -t 2>&1)
is "$out" "Syntax OK" "apache2 -t accepts site.conf with the files init made"

htpasswd -b "$dir/users" alice wonderland >/dev/null 2>&1
htpasswd -b "$dir/admins" root toor >/dev/null 2>&1
if ! apache2 -d "$cfg" -f "$T_CONF" -k start >"$T_WORK/start.out" 2>&1; then
    sed 's/^/#   /' "$T_WORK/start.out" "$T_LOG"
fi
for _ in $(seq 1 100); do
    curl -s --cacert "$PKI/signing-root.pem" -o /dev/null "$url/" && break
    sleep 0.1
done
curl_tls() { curl -s --cacert "$PKI/signing-root.pem" "$@"; }
is "$(curl_tls -o /dev/null -w '%{http_code}' "$url/ota/profile")" 401 \
    "phase 1 asks for credentials"
got=$(curl_tls -u alice:wonderland -o "$T_WORK/p1.der" -w '%{http_code} %{content_type}' \
      "$url/ota/profile")
is "$got" "200 application/x-apple-aspen-config" "phase 1 answers after Basic auth"
p1=$(openssl cms -verify -inform DER -in "$T_WORK/p1.der" -CAfile "$dir/signing-chain.pem" \
     -purpose any 2>/dev/null)
has "$p1" '<string>Profile Service</string>' "a Profile Service payload signed by init's identity"
is "$(curl_tls -o /dev/null -w '%{http_code}' "$url/ota/status")" 401 \
    "the status page asks for credentials"
is "$(curl_tls -u root:toor -o /dev/null -w '%{http_code}' "$url/ota/status")" 200 \
    "and answers an admin"
is "$(curl_tls -u alice:wonderland -o /dev/null -w '%{http_code}' "$url/ota/status")" 401 \
    "but not a user"

# a device enrolls: phase 2, SCEP with init's CA, phase 3 with its profile
out=$("$OTA_DEVICE" enroll --url "$url/ota/profile" --user alice:wonderland \
      --cacert "$PKI/signing-root.pem" --trust "$dir/signing-chain.pem" \
      --identity "$PKI/device.pem" --key "$PKI/device.key" \
      --chain "$PKI/device-ca-chain.pem" --save-dir "$T_WORK/device" 2>&1)
has "$out" 'RESULT: enrolled, final profile installed' "a device enrolls through every phase"
like "$(openssl x509 -in "$T_WORK/device/device-cert.pem" -noout -issuer 2>/dev/null)" \
    'Example Inc. device CA' "its certificate comes from init's CA"
has "$(cat "$T_WORK/device/final-payloads.plist" 2>/dev/null)" "<string>$url/</string>" \
    "its final profile is init's web clip"
has "$(cat "$cfg/ota-enroll.log" 2>/dev/null)" "phase=3" \
    "enrollment requests go to ota-enroll.log"
apache_stop
# AH01618: alice asked for the status page above; AH01882: a host whose
# libssl3 is older than the one its mod_ssl was built with
log_clean AH01618 AH01882
done_testing
