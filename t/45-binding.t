#!/bin/bash
# What a device is bound to, and what the built-in CA issues for it: a UDID
# recorded for one user is not taken by another user's challenge; the
# certificate carries exactly the names bound at phase 2, never the ones a
# request asks for; only the requester collects a certificate by
# GetCertInitial. Real peers: openssl req makes the hostile CSRs, openssl
# x509 reads what was issued.
. "$(dirname "$0")/lib.sh"
t_setup

udid_a=$(openssl x509 -in "$PKI/device.pem" -noout -subject -nameopt multiline | sed -n 's/.*commonName *= *//p')
san_conf='OTAEnrollSCEPSubjectAltName rfc822Name=%{REMOTE_USER}@corp.example dNSName=%{UDID}.devices.example'
apache_start binding "$(site_locations final="$T_TOP/t/fixtures/profiles/configuration.mobileconfig" \
    enroll_extra="$san_conf")"
ok $? "apache2 starts with OTAEnrollSCEPSubjectAltName"

enroll() {   # enroll USER IDENTITY [ARGS]: the emulator, output in $E_OUT
    local user=$1 id=$2
    shift 2
    E_OUT=$("$OTA_DEVICE" enroll --url "$(t_url /ota/profile)" --user "$user:secret" \
            --trust "$PKI/signing-root.pem" --identity "$PKI/$id.pem" --key "$PKI/$id.key" \
            --chain "$PKI/device-ca-chain.pem" --timeout 5 "$@" 2>&1)
    E_RC=$?
}

# ---- the names bound at phase 2 are the names issued ----
enroll alice device --save-dir "$T_WORK/alice"
is "$E_RC" 0 "alice's device enrolls (phases 1, 2, SCEP, 3)"
a=$(openssl cms -verify -noverify -inform DER -in "$T_WORK/alice/phase2.der" 2>/dev/null | tr -d '\n\t')
like "$a" '<key>SubjectAltName</key><dict><key>rfc822Name</key><string>alice@corp.example</string><key>dNSName</key><string>'"$udid_a"'.devices.example</string></dict>' \
    "the SCEP payload carries SubjectAltName, filled for alice's device"
san=$(openssl x509 -in "$T_WORK/alice/device-cert.pem" -noout -ext subjectAltName 2>&1)
like "$san" "email:alice@corp.example" "the certificate names alice's address"
like "$san" "DNS:$udid_a.devices.example" "and the device's DNS name"
is "$(printf '%s\n' "$san" | grep -c ',')" 1 "and nothing else (two names)"
like "$(openssl x509 -in "$T_WORK/alice/device-cert.pem" -noout -ext basicConstraints)" 'CA:FALSE' \
    "basicConstraints CA:FALSE"

# ---- another user cannot take alice's UDID ----
c=$(challenge_of "$(t_url /ota/profile)" -u bob:secret)
[ -n "$c" ]
ok $? "bob gets a phase-1 challenge"
device_attrs "$udid_a" "$c" >"$T_WORK/takeover.plist"
device_sign device2 "$T_WORK/takeover.plist" "$T_WORK/takeover.der"
refused "bob, with his own device identity, claims alice's UDID" /ota/enroll \
    "$T_WORK/takeover.der" 403 OTA00042
like "$(grep OTA00042 "$T_LOG" | tail -1)" "device $udid_a for user bob: the device is enrolled for another user" \
    "the log names the device, the user and why"
is "$(db_count "select username from ota_device where udid = '$udid_a'")" alice "the device stays alice's"
enroll bob device2 --stop-after scep
is "$E_RC" 0 "bob enrolls his own device"

# ---- alice again, with another device identity: allowed, noted ----
n0=$(log_count OTA00043)
c=$(challenge_of "$(t_url /ota/profile)" -u alice:secret)
device_attrs "$udid_a" "$c" >"$T_WORK/again.plist"
device_sign device2 "$T_WORK/again.plist" "$T_WORK/again.der"
is "$(post_body /ota/enroll "$T_WORK/again.der")" 200 "alice re-enrolls her UDID with another device identity"
is "$(( $(log_count OTA00043) - n0 ))" 1 "logged once at warn (OTA00043)"

# ---- a request asking for names: refused, nothing consumed ----
scep_challenge() {   # the one-time SCEP challenge of a fresh phase 2 for alice
    enroll alice device --stop-after phase2 --save-dir "$T_WORK/p2"
    openssl cms -verify -noverify -inform DER -in "$T_WORK/p2/phase2.der" 2>/dev/null | tr -d '\n\t' \
        | sed -n 's/.*<key>Challenge<\/key><string>\([^<]*\)<.*/\1/p'
}
openssl genrsa -out "$T_WORK/k.pem" 2048 2>/dev/null
csr() {   # csr CHALLENGE [-addext EXT]...: a CSR made by openssl req
    local ch=$1
    shift
    printf '[req]\ndistinguished_name=dn\nattributes=attrs\nprompt=no\n[dn]\nO=Example Inc.\nCN=%s\n[attrs]\nchallengePassword=%s\n' \
        "$udid_a" "$ch" >"$T_WORK/req.cnf"
    openssl req -new -key "$T_WORK/k.pem" -config "$T_WORK/req.cnf" "$@" -out "$T_WORK/csr.pem" 2>&1
}
scep_send() {   # scep_send: PKCSReq of csr.pem, output in $S_OUT
    S_OUT=$("$OTA_DEVICE" scep --url "$(t_url /ota/scep)" --key "$T_WORK/k.pem" \
            --csr "$T_WORK/csr.pem" --out-cert "$T_WORK/issued.pem" 2>&1)
    S_RC=$?
}
ch=$(scep_challenge)
[ -n "$ch" ]
ok $? "a fresh phase 2 gives alice's device a one-time SCEP challenge"
csr "$ch" -addext "subjectAltName=email:ceo@corp.example,DNS:vpn.corp.example,otherName:1.3.6.1.4.1.311.20.2.3;UTF8:ceo@corp.example,URI:https://corp.example/ceo,IP:10.0.0.1"
ok $? "openssl req makes a CSR asking for an e-mail, a DNS name, a UPN, a URI and an IP"
before=$(db_state)
n0=$(log_count OTA00067)
scep_send
is "$S_RC" 6 "the CA answers FAILURE"
like "$S_OUT" 'badRequest' "badRequest"
is "$(( $(log_count OTA00067) - n0 ))" 1 "one OTA00067 line"
like "$(grep OTA00067 "$T_LOG" | tail -1)" 'bad-extensions: the requested subjectAltName is not the one bound to the device' \
    "the log says the names were not the bound ones"
is "$(db_state)" "$before" "nothing issued, the SCEP challenge not consumed"

csr "$ch" -addext "subjectAltName=email:alice@corp.example,DNS:$udid_a.devices.example" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "extendedKeyUsage=serverAuth,codeSigning"
scep_send
is "$S_RC" 0 "a CSR asking for the bound names (and CA powers) is issued"
x=$(openssl x509 -in "$T_WORK/issued.pem" -noout -text)
like "$x" 'CA:FALSE' "without CA powers"
unlike "$x" 'Certificate Sign|Code Signing|TLS Web Server' "nor the usages it asked for"
like "$x" 'TLS Web Client Authentication' "clientAuth, as the CA always issues"
like "$(grep OTA00069 "$T_LOG" | tail -1)" 'ignored what the request asked for: X509v3 Basic Constraints|ignored what the request asked for: .*Basic Constraints' \
    "the ignored extensions are named in OTA00069"

# ---- GetCertInitial answers only the requester ----
openssl genrsa -out "$T_WORK/other.pem" 2048 2>/dev/null
tid=$(openssl pkey -in "$T_WORK/k.pem" -pubout -outform DER | openssl dgst -sha256 -r | cut -c1-64 | tr a-f A-F)
n0=$(log_count OTA00070)
S_OUT=$("$OTA_DEVICE" scep --url "$(t_url /ota/scep)" --type poll --key "$T_WORK/other.pem" \
        --transaction-id "$tid" --subject "/O=Example Inc./CN=$udid_a" 2>&1)
is "$?" 6 "a poll for alice's transaction signed by another key: FAILURE"
like "$S_OUT" 'badCertId' "badCertId"
like "$(grep OTA00070 "$T_LOG" | tail -1)" "not signed by the requester's key" "the log says why"
S_OUT=$("$OTA_DEVICE" scep --url "$(t_url /ota/scep)" --type poll --key "$T_WORK/k.pem" \
        --subject "/O=Example Inc./CN=$udid_a" --out-cert "$T_WORK/polled.pem" 2>&1)
is "$?" 0 "the requester's own poll gets the certificate"
is "$(openssl x509 -in "$T_WORK/polled.pem" -noout -serial)" \
   "$(openssl x509 -in "$T_WORK/issued.pem" -noout -serial)" "the same certificate"

log_clean OTA00042 OTA00043 OTA00067 OTA00070
done_testing
