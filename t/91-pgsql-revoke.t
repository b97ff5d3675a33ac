#!/bin/bash
# Revocation across a cluster: two apache2 servers (A and B) on one
# PostgreSQL. A device certificate revoked through A is revoked in B's
# OCSP answers at once, and both serve the same CRL, built once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg.sh"
pg_require
t_setup

pg_init
ok $? "a throwaway PostgreSQL cluster runs on 127.0.0.1:$PG_PORT"

profile=$T_TOP/t/fixtures/profiles/configuration.mobileconfig
A_PORT=$(free_port)
B_PORT=$(free_port)
while [ "$B_PORT" = "$A_PORT" ] || [ "$B_PORT" = "$PG_PORT" ]; do
    B_PORT=$(free_port)
done
A=http://127.0.0.1:$A_PORT
B=http://127.0.0.1:$B_PORT
server_conf() {
    cat <<CONF
DBDriver pgsql
DBDParams "$PG_PARAMS"
DBDPersist On
DBDMin 0
$(site_locations final="$profile" status=on)
<Location /ota/crl>
    SetHandler ota-crl
</Location>
<Location /ota/ocsp>
    SetHandler ota-ocsp
</Location>
CONF
}
T_PORT_FIXED=$A_PORT apache_start a "$(server_conf)"
ok $? "server A starts"
A_CONF=$T_CONF A_LOG=$T_LOG
T_PORT_FIXED=$B_PORT apache_start b "$(server_conf)"
ok $? "server B starts"
B_CONF=$T_CONF B_LOG=$T_LOG
stop_servers() {
    T_CONF=$A_CONF apache_stop
    T_CONF=$B_CONF apache_stop
}
T_CLEANUP+=(stop_servers)

for who in alice:device bob:device2; do
    "$OTA_DEVICE" enroll --url "$A/ota/profile" --user "${who%%:*}:secret" \
        --trust "$PKI/signing-root.pem" --identity "$PKI/${who#*:}.pem" --key "$PKI/${who#*:}.key" \
        --chain "$PKI/device-ca-chain.pem" --timeout 5 --save-dir "$T_WORK/${who%%:*}" >/dev/null 2>&1
    ok $? "${who%%:*}'s device enrolls through A"
done
cat "$PKI/signing-ca.pem" "$PKI/signing-root.pem" >"$T_WORK/ca-chain.pem"
ocsp() {   # ocsp SERVER NAME
    openssl ocsp -url "$1/ota/ocsp" -issuer "$PKI/signing-ca.pem" -CAfile "$T_WORK/ca-chain.pem" \
        -cert "$T_WORK/$2/device-cert.pem" 2>&1
}
like "$(ocsp "$B" alice)" "device-cert.pem: good" "B's OCSP: alice's certificate is good"

serial=$(openssl x509 -in "$T_WORK/alice/device-cert.pem" -noout -serial | sed 's/serial=//')
status=$(curl -s -o /dev/null -w '%{http_code}' -u alice:secret -H 'Content-Type: application/json' \
         --data-binary "{\"action\":\"revoke\",\"serial\":\"$serial\",\"reason\":\"affiliationChanged\"}" \
         "$A/ota/status")
is "$status" 200 "revoked through A"
out=$(ocsp "$B" alice)
like "$out" "device-cert.pem: revoked" "B's OCSP says revoked at once"
like "$out" "Reason: affiliationChanged" "with the reason given on A"
has "$out" "Response verify OK" "signed by the CA B holds"
like "$(ocsp "$B" bob)" "device-cert.pem: good" "bob's stays good on B"

curl -s -o "$T_WORK/a.crl" "$A/ota/crl"
curl -s -o "$T_WORK/b.crl" "$B/ota/crl"
cmp -s "$T_WORK/a.crl" "$T_WORK/b.crl"
ok $? "A and B serve the same CRL"
has "$(openssl crl -inform DER -in "$T_WORK/b.crl" -noout -text)" "Serial Number: $serial" \
    "listing the certificate revoked through A"
is "$(pg_sql "select count(*) from ota_crl")" 1 "one CRL row in the shared store"

T_CONF=$A_CONF T_LOG=$A_LOG log_clean
T_CONF=$B_CONF T_LOG=$B_LOG log_clean
done_testing
