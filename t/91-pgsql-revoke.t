#!/bin/bash
# Revocation across a cluster: two apache2 servers (A and B) on one
# PostgreSQL. A device certificate revoked through A is revoked in B's
# OCSP answers at once, and both serve the same CRL, built once.
. "$(dirname "$0")/lib.sh"
pg_setup

profile=$T_TOP/t/fixtures/profiles/configuration.mobileconfig
ab_start "$(pg_dbd)
DBDPersist On
DBDMin 0
$(site_locations final="$profile" status=on crl=on ocsp=on)"

enroll_pair "$A/ota/profile" "through A"
cat "$PKI/signing-ca.pem" "$PKI/signing-root.pem" >"$T_WORK/ca-chain.pem"
ocsp() {   # ocsp SERVER NAME
    openssl ocsp -url "$1/ota/ocsp" -issuer "$PKI/signing-ca.pem" -CAfile "$T_WORK/ca-chain.pem" \
        -cert "$T_WORK/$2/device-cert.pem" 2>&1
}
like "$(ocsp "$B" alice)" "device-cert.pem: good" "B's OCSP: alice's certificate is good"

serial=$(cert_serial alice)
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
