#!/bin/bash
# The Wi-Fi case these certificates exist for: FreeRADIUS doing EAP-TLS,
# driven by eapol_test (wpa_supplicant's test client), accepts an enrolled
# device and refuses it once revoked, asking ota-ocsp, and once with the
# CRL from ota-crl. Another device keeps working.
. "$(dirname "$0")/lib.sh"
t_setup

if ! command -v freeradius >/dev/null || ! command -v eapol_test >/dev/null; then
    skip "freeradius and eapoltest are not installed (make test installs them)"
    done_testing
    exit 0
fi

T_PORT_FIXED=$(free_port)
base=http://127.0.0.1:$T_PORT_FIXED
apache_start ca "$(site_locations final="$T_TOP/t/fixtures/profiles/configuration.mobileconfig" \
    status=on crl=on ocsp=on)"
ok $? "apache2 starts with ota-ocsp and ota-crl"
unset T_PORT_FIXED

enroll_pair "$base/ota/profile"
cat "$PKI/signing-ca.pem" "$PKI/signing-root.pem" >"$T_WORK/ca-chain.pem"

radius_start() {   # radius_start NAME REVOCATION: FreeRADIUS on $R_PORT
    local dir=$T_WORK/$1
    R_PORT=$(free_port)
    mkdir -p "$dir"
    cp "$T_WORK/ca-chain.pem" "$dir/ca.pem"
    [ "$2" = crl ] && cat "$T_WORK/crl.pem" >>"$dir/ca.pem"
    bash "$T_TOP/t/radius/radiusd.sh" "$dir" "$R_PORT" "$2" "$PKI"
    freeradius -f -X -d "$dir" >"$dir/radiusd.out" 2>&1 &
    R_PID=$!
    T_PIDS+=("$R_PID")
    for _ in $(seq 1 50); do
        grep -q 'Ready to process requests' "$dir/radiusd.out" && return 0
        sleep 0.2
    done
    echo "# freeradius did not start:"; tail -20 "$dir/radiusd.out" | sed 's/^/#   /'
    return 1
}
radius_stop() { kill "$R_PID" 2>/dev/null; wait "$R_PID" 2>/dev/null; }
wifi() {   # wifi NAME: eapol_test's verdict for NAME's device identity
    cat >"$T_WORK/$1.eapol" <<CONF
network={
    key_mgmt=WPA-EAP
    eap=TLS
    identity="$1-device"
    ca_cert="$T_WORK/ca-chain.pem"
    client_cert="$T_WORK/$1/device-cert.pem"
    private_key="$T_WORK/$1/device-key.pem"
}
CONF
    if timeout 30 eapol_test -c "$T_WORK/$1.eapol" -a 127.0.0.1 -p "$R_PORT" -s testing123 \
            -t 10 >"$T_WORK/$1.eapol.out" 2>&1; then
        echo SUCCESS
    else
        echo FAILURE
    fi
}

radius_start radius-ocsp "$base/ota/ocsp"
ok $? "FreeRADIUS starts, checking certificates with ota-ocsp"
is "$(wifi alice)" SUCCESS "EAP-TLS: alice's device joins the Wi-Fi"
is "$(wifi bob)" SUCCESS "EAP-TLS: bob's device too"

serial=$(cert_serial alice)
status=$(curl -s -o /dev/null -w '%{http_code}' -u alice:secret -H 'Content-Type: application/json' \
         --data-binary "{\"action\":\"revoke\",\"serial\":\"$serial\",\"reason\":\"keyCompromise\"}" \
         "$base/ota/status")
is "$status" 200 "the admin revokes alice's device certificate"
is "$(wifi alice)" FAILURE "EAP-TLS with OCSP: alice's device is refused at once"
like "$(cat "$T_WORK/radius-ocsp/radiusd.out")" "[Cc]ertificate has been revoked|revoked" \
    "FreeRADIUS says the certificate is revoked"
is "$(wifi bob)" SUCCESS "bob's device still joins"
radius_stop

curl -s "$base/ota/crl" | openssl crl -inform DER -out "$T_WORK/crl.pem"
ok $? "the CRL is fetched from ota-crl"
radius_start radius-crl crl
ok $? "FreeRADIUS starts, checking certificates with the CRL"
is "$(wifi alice)" FAILURE "EAP-TLS with the CRL: alice's device is refused"
like "$(cat "$T_WORK/radius-crl/radiusd.out")" "revoked" "FreeRADIUS says why"
is "$(wifi bob)" SUCCESS "bob's device joins"
radius_stop

log_clean
done_testing
