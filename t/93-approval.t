#!/bin/bash
# The admin's actions with OTAEnrollSCEPApproval manual: emulated devices
# enroll while the built-in CA holds their requests (PENDING, polled with
# GetCertInitial); one is approved (the poll gets the certificate, phase 3
# follows), one rejected (FAILURE; deciding again is 409), one expires; an
# <If> gives auto to some devices; a device is released and enrolled by
# another user, then forgotten. JSON and forms (CSRF token, 303 back to
# the page), the audit in the shared store, a user whom Apache allows GET
# but not POST, and a poll by someone other than the requester.
. "$(dirname "$0")/lib.sh"
t_setup

profile=$T_TOP/t/fixtures/profiles/configuration.mobileconfig
UA=0A0A0A0A-0000-4000-8000-00000000A001    # approved, released, forgotten
UR=0B0B0B0B-0000-4000-8000-00000000B001    # rejected
UE=0E0E0E0E-0000-4000-8000-00000000E001    # expired
UP=0C0C0C0C-0000-4000-8000-00000000C001    # polled by someone else
UV=0D0D0D0D-0000-4000-8000-00000000D001    # revoked by form
T_PORT_FIXED=$(free_port)
base=http://127.0.0.1:$T_PORT_FIXED

config_refused() {   # config_refused LINE MESSAGE: apache2 -t refuses LINE
    apache_config "bad$((++bad))" "$1"
    like "$(apache2 -d "$(dirname "$T_CONF")" -f "$T_CONF" -t 2>&1)" "$2" "apache2 -t refuses $1"
}
bad=0
config_refused "OTAEnrollSCEPApproval sometimes" \
    "OTAEnrollSCEPApproval: expects auto \(issue at once\) or manual"
config_refused "OTAEnrollPendingLifetime 5" \
    "OTAEnrollPendingLifetime: expects a number from 10 to 2592000"
held_scep="OTAEnrollSCEPApproval manual
OTAEnrollCRLURL $base/ota/crl
<If \"%{HTTP_USER_AGENT} =~ /iPhone OS 4_/\">
    OTAEnrollSCEPApproval auto
</If>"
apache_start approval "
LogLevel info ota_enroll:debug
$(site_locations final="$profile" status=look crl=on \
    enroll_extra="OTAEnrollSCEPSubjectAltName rfc822Name=%{REMOTE_USER}@example.com
OTAEnrollSCEPRetries 90
OTAEnrollSCEPRetryDelay 1" \
    scep_extra="$held_scep
OTAEnrollPendingLifetime 600")
$(site_locations prefix=/short final="$profile" \
    enroll_extra="OTAEnrollSCEPRetries 40
OTAEnrollSCEPRetryDelay 1" \
    scep_extra="OTAEnrollSCEPApproval manual
OTAEnrollPendingLifetime 10")
$(site_locations prefix=/fitted \
    scep_extra="OTAEnrollSCEPApproval manual
OTAEnrollPendingLifetime 600")
"
ok $? "apache2 starts with OTAEnrollSCEPApproval manual (auto inside an <If>)"

# ---- helpers ----
enroll_bg() {   # enroll_bg NAME USER UDID [PREFIX [ARGS...]]: pid in BG_PID
    local name=$1 user=$2 udid=$3 prefix=${4:-/ota}
    shift 4 2>/dev/null || shift $#
    device_enroll "$name" "$base$prefix/profile" "$user" device --udid "$udid" "$@" &
    BG_PID=$!
}
act() {   # act USER JSON: the HTTP status; the body in $T_WORK/act.out
    curl -s -o "$T_WORK/act.out" -w '%{http_code}' -u "$1:secret" \
        -H 'Content-Type: application/json' --data-binary "$2" "$base/ota/status"
}
token_of() {   # token_of USER: the CSRF token on USER's page
    curl -s -u "$1:secret" "$base/ota/status" \
        | sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -1
}
form() {   # form USER FIELDS: the HTTP status; headers in $T_WORK/form.headers
    curl -s -o "$T_WORK/form.out" -D "$T_WORK/form.headers" -w '%{http_code}' \
        -u "$1:secret" --data "$2" "$base/ota/status?page=1"
}
page_json() {   # page_json: the JSON page into $T_WORK/page.json
    curl -s -u alice:secret -o "$T_WORK/page.json" "$base/ota/status?format=json"
}
jqt() {   # jqt FILTER NAME [ARGS...]: jq -e on the JSON page
    local filter=$1 name=$2
    shift 2
    jq -e "$@" "$filter" "$T_WORK/page.json" >/dev/null 2>&1
    ok $? "$name"
}

# ---- the payload's polling fits the pending lifetime ----
device_enroll fitted "$base/fitted/profile" alice device \
    --udid 0F1F1F1F-0000-4000-8000-000000000001 --stop-after phase2
ok $? "phase 2 in front of a CA that holds requests, Retries and RetryDelay unset"
payload=$(tr -d '\n\t' <"$T_WORK/fitted/phase2.plist")
has "$payload" "<key>Retries</key><integer>21</integer>" "Retries: polls for its 600 s lifetime"
has "$payload" "<key>RetryDelay</key><integer>30</integer>" "RetryDelay 30"

# ---- an expiring one runs meanwhile (lifetime 10 s) ----
enroll_bg expire alice $UE /short
EXPIRE_PID=$BG_PID
tid_e=$(wait_pending $UE)
ok $? "a request through /short is held ($tid_e)"

# ---- held, then approved ----
enroll_bg approve alice $UA
tid_a=$(wait_pending $UA)
ok $? "alice's device: its PKCSReq is held ($tid_a)"
is "$(db_count "select count(*) from ota_certificate where udid = '$UA'")" 0 \
   "no certificate yet"
is "$(db_count "select count(*) from ota_scep_challenge where udid = '$UA' and used is null")" 0 \
   "its SCEP challenge was consumed when it was held"
is "$(db_count "select username || '/' || product || '/' || subject || '/' || san from ota_pending where transaction_id = '$tid_a'")" \
   "alice/iPhone15,2/CN=$UA,O=Example Inc./rfc822Name=alice@example.com" \
   "the held request keeps its user, product, subject and bound names"
is "$(log_count "OTA00125: certificate request $tid_a")" 1 "OTA00125 logged"
sleep 2
like "$(cat "$T_WORK/approve.out")" "PENDING: GetCertInitial [0-9]+ of 90 in 1.0 s" \
     "the device polls as the payload's Retries and RetryDelay say"
kill -0 "$BG_PID" 2>/dev/null
ok $? "and keeps waiting"

page_json
jqt '.pending | map(select(.transaction == $t)) | length == 1' "JSON: the request is in pending" \
    --arg t "$tid_a"
jqt '.pending[] | select(.transaction == $t) | .udid == $u and .user == "alice"
     and .product == "iPhone15,2" and .subject == ("CN=" + $u + ",O=Example Inc.")
     and (.requested | test("Z$")) and (.expires | test("Z$"))' \
    "JSON: with its UDID, user, product, subject and times" --arg t "$tid_a" --arg u "$UA"
curl -s -u alice:secret -D "$T_WORK/page.headers" -o "$T_WORK/page.html" "$base/ota/status"
html=$(cat "$T_WORK/page.html")
has "$html" "<td class=\"mono transaction\">$tid_a</td><td class=\"mono udid\">$UA</td>" \
    "HTML: the request's row"
has "$html" "data-action=\"approve\" data-confirm=\"Approve the certificate request of device $UA for alice? The CA issues its certificate.\" onsubmit=\"return confirm(this.dataset.confirm)\"" \
    "HTML: an Approve form that asks first"
has "$html" "<input type=\"hidden\" name=\"transaction\" value=\"$tid_a\"><button type=\"submit\">Reject</button>" \
    "HTML: a Reject button"
csp=$(tr -d '\r' <"$T_WORK/page.headers" | sed -n 's/^Content-Security-Policy: //p')
has "$csp" "script-src 'unsafe-hashes' 'sha256-$(printf 'return confirm(this.dataset.confirm)' \
    | openssl dgst -sha256 -binary | base64)'" "the CSP allows that one handler by its hash"
unlike "$html" '<script' "and the page has no script element"
unlike "$html" 'onclick|onload|onerror' "nor any other handler"

is "$(act alice "{\"action\":\"approve\",\"transaction\":\"$tid_a\"}")" 200 "alice approves (JSON)"
is "$(jq -c . "$T_WORK/act.out")" "{\"approved\":\"$tid_a\",\"udid\":\"$UA\"}" "answer: approved"
is "$(log_count "OTA00120: request $tid_a")" 1 "OTA00120 logged"
is "$(act alice "{\"action\":\"approve\",\"transaction\":\"$tid_a\"}")" 409 "approving it again: 409"
has "$(cat "$T_WORK/act.out")" "already decided approved by alice" "saying who decided"
is "$(act alice "{\"action\":\"reject\",\"transaction\":\"$tid_a\"}")" 409 "rejecting it now: 409"
is "$(log_count OTA00124)" 2 "OTA00124 logged twice"
is "$(act alice '{"action":"approve","transaction":"NO-SUCH-TRANSACTION"}')" 404 "an unknown transaction: 404"

wait "$BG_PID"
ok $? "the device's next poll gets the certificate and phase 3 succeeds"
has "$(cat "$T_WORK/approve.out")" "RESULT: enrolled, final profile installed" "final profile installed"
serial_a=$(cert_serial approve)
is "$(db_count "select phase || '/' || username || '/' || cert_serial from ota_device where udid = '$UA'")" \
   "4/alice/$serial_a" "the device is enrolled for alice with that certificate"
is "$(db_count "select username || '/' || transaction_id from ota_certificate where serial = '$serial_a'")" \
   "alice/$tid_a" "the certificate is recorded for alice, under the held transaction"
text=$(openssl x509 -in "$T_WORK/approve/device-cert.pem" -noout -text)
has "$text" "email:alice@example.com" "the CA's normal issuance: the bound subjectAltName"
has "$text" "URI:$base/ota/crl" "and the CRL URL"
is "$(log_count "OTA00069: issued certificate $serial_a to CN=$UA,O=Example Inc. for device $UA, valid 365 days, approved by alice")" 1 \
   "OTA00069 names the approver"

# ---- held, then rejected (a form with the page's token) ----
enroll_bg reject bob $UR
tid_r=$(wait_pending $UR)
ok $? "bob's device is held ($tid_r)"
token=$(token_of alice)
[ -n "$token" ]
ok $? "the page carries a form token"
is "$(form alice "action=reject&transaction=$tid_r")" 403 "a form without the token: 403"
is "$(form alice "csrf=$(token_of bob)&action=reject&transaction=$tid_r")" 403 \
   "a form with another user's token: 403"
is "$(form alice "csrf=$token&action=reject&transaction=$tid_r")" 303 "alice rejects (form): 303"
like "$(tr -d '\r' <"$T_WORK/form.headers")" '^Location: /ota/status\?page=1$' "back to the page"
is "$(log_count "OTA00121: request $tid_r")" 1 "OTA00121 logged"
wait "$BG_PID"
is "$?" 5 "the device's poll gets FAILURE (exit 5)"
like "$(cat "$T_WORK/reject.out")" "SCEP: FAILURE badRequest" "FAILURE badRequest"
is "$(log_count "OTA00126: SCEP CertPoll refused (badRequest): request $tid_r rejected by alice")" 1 \
   "OTA00126 logged"
is "$(act alice "{\"action\":\"approve\",\"transaction\":\"$tid_r\"}")" 409 "approving it afterwards: 409"
is "$(form alice "csrf=$token&action=approve&transaction=$tid_r")" 409 "by form too: 409"
like "$(cat "$T_WORK/form.out")" '<h1>Action refused</h1><p>request [0-9A-F]+ cannot be approved: already decided rejected by alice' \
     "a page a browser shows"
is "$(db_count "select count(*) from ota_certificate where udid = '$UR'")" 0 "no certificate"

# ---- the expired one ----
wait "$EXPIRE_PID"
is "$?" 5 "the /short device gets FAILURE once its request expired (exit 5)"
is "$(log_count "OTA00127: SCEP CertPoll refused (badRequest): request $tid_e expired")" 1 \
   "OTA00127 logged"
is "$(act alice "{\"action\":\"approve\",\"transaction\":\"$tid_e\"}")" 409 "approving it afterwards: 409"
has "$(cat "$T_WORK/act.out")" "cannot be approved: expired" "expired"
page_json
jqt '[.pending[].transaction] | index($e) == null and index($r) == null and index($a) == null' \
    "none of the three is waiting any more" --arg e "$tid_e" --arg r "$tid_r" --arg a "$tid_a"

# ---- only the requester collects ----
device_enroll poll "$base/ota/profile" alice device --udid $UP --stop-after phase2
ok $? "$UP passes phase 2"
challenge=$(tr -d '\n\t' <"$T_WORK/poll/phase2.plist" | sed -n 's/.*<key>Challenge<\/key><string>\([^<]*\)<.*/\1/p')
"$OTA_DEVICE" scep --url "$base/ota/scep" --subject "/O=Example Inc./CN=$UP" \
    --challenge "$challenge" --out-key "$T_WORK/poll/key.pem" >"$T_WORK/poll-req.out" 2>&1
is "$?" 7 "its PKCSReq is answered PENDING (exit 7)"
tid_p=$(wait_pending $UP)
"$OTA_DEVICE" scep --url "$base/ota/scep" --type poll --transaction-id "$tid_p" \
    --subject "/O=Example Inc./CN=$UP" >"$T_WORK/poll-other.out" 2>&1
is "$?" 6 "a poll signed by another key: FAILURE (exit 6)"
is "$(log_count "OTA00070: SCEP CertPoll refused (badCertId): the poll is not signed by the requester's key")" 1 \
   "OTA00070: not the requester"
"$OTA_DEVICE" scep --url "$base/ota/scep" --type poll --transaction-id "$tid_p" \
    --key "$T_WORK/poll/key.pem" --subject "/O=Example Inc./CN=$UP" >"$T_WORK/poll-self.out" 2>&1
is "$?" 7 "the requester's own poll: still PENDING (exit 7)"
is "$(act alice "{\"action\":\"reject\",\"transaction\":\"$tid_p\"}")" 200 "rejected (JSON)"

# ---- users allowed GET but not POST ----
is "$(curl -s -o "$T_WORK/bob.html" -w '%{http_code}' -u bob:secret "$base/ota/status")" 200 \
   "bob may look at the page"
has "$(cat "$T_WORK/bob.html")" 'data-action="forget"' "it shows the buttons"
before=$(db_count "select count(*) from ota_audit")
is "$(act bob "{\"action\":\"release\",\"udid\":\"$UA\"}")" 401 "but Apache refuses bob's POST (401)"
is "$(form bob "csrf=$(token_of bob)&action=forget&udid=$UA")" 401 \
   "a form with his own token too"
is "$(db_count "select username from ota_device where udid = '$UA'")" alice "nothing changed"
is "$(db_count "select count(*) from ota_audit")" "$before" "nothing audited"

# ---- release, then another user; an <If> gives auto ----
device_enroll bob-bound "$base/ota/profile" bob device --udid $UA --emulate ios4
is "$?" 3 "bob cannot enroll alice's device (phase 2 refused)"
is "$(log_count "OTA00042: refused device $UA for user bob")" 1 "OTA00042"
is "$(act alice "{\"action\":\"release\",\"udid\":\"$UA\"}")" 200 "alice releases it"
is "$(jq -c . "$T_WORK/act.out")" "{\"released\":\"$UA\",\"user\":\"alice\"}" "answer: released from alice"
is "$(log_count "OTA00122: device $UA released from alice by alice from 127.0.0.1")" 1 "OTA00122 logged"
is "$(act alice '{"action":"release","udid":"NO-SUCH-DEVICE"}')" 404 "an unknown device: 404"
device_enroll bob "$base/ota/profile" bob device --udid $UA --emulate ios4
ok $? "now bob enrolls it (iOS 4: the <If> gives auto, issued at once)"
unlike "$(cat "$T_WORK/bob.out")" "PENDING" "without PENDING"
serial_b=$(cert_serial bob)
is "$(db_count "select username || '/' || phase from ota_device where udid = '$UA'")" "bob/4" \
   "the device is bob's, enrolled"
is "$(db_count "select revoked_reason from ota_certificate where serial = '$serial_a'")" 4 \
   "alice's certificate is superseded"

# ---- forget ----
is "$(act alice "{\"action\":\"forget\",\"udid\":\"$UA\"}")" 200 "alice forgets the device"
is "$(jq -c . "$T_WORK/act.out")" "{\"forgotten\":\"$UA\",\"revoked\":[\"$serial_b\"]}" \
   "answer: forgotten, bob's certificate revoked"
is "$(db_count "select count(*) from ota_device where udid = '$UA'")" 0 "the device is gone"
is "$(db_count "select revoked_reason from ota_certificate where serial = '$serial_b'")" 5 \
   "its certificate revoked (cessationOfOperation)"
is "$(log_count "OTA00123: device $UA forgotten (1 certificates revoked) by alice")" 1 "OTA00123 logged"
is "$(log_count "OTA00110: certificate $serial_b of device $UA revoked (cessationOfOperation, forgotten)")" 1 \
   "OTA00110 logged"
curl -s -o "$T_WORK/crl.der" "$base/ota/crl"
has "$(openssl crl -inform DER -in "$T_WORK/crl.der" -noout -text)" "Serial Number: $serial_b" \
    "the CRL lists it"
"$OTA_DEVICE" enroll --phase3-only --url "$base/ota/enroll" --phase3-identity "$T_WORK/bob/device-cert.pem" \
    --phase3-key "$T_WORK/bob/device-key.pem" --udid $UA --trust "$PKI/signing-root.pem" \
    --timeout 5 >"$T_WORK/p3.out" 2>&1
is "$?" 8 "phase 3 with its old identity is refused"
is "$(log_count "OTA00080: phase 3 refused for device $UA")" 1 "OTA00080: no such device now"
is "$(act alice "{\"action\":\"forget\",\"udid\":\"$UA\"}")" 404 "forgetting it again: 404"

# ---- revoke through the page's form, audited ----
device_enroll rv "$base/ota/profile" alice device --udid $UV --emulate ios4
ok $? "$UV enrolls (auto)"
serial_r=$(cert_serial rv)
is "$(form alice "csrf=$(token_of alice)&action=revoke&serial=$serial_r")" 303 "revoked by form: 303"
is "$(db_count "select revoked_reason from ota_certificate where serial = '$serial_r'")" 0 "revoked"

# ---- the audit ----
page_json
jqt '[.audit[] | .action] | sort == ["approve", "forget", "reject", "reject", "release", "revoke", "revoke"]' \
    "the audit has every action"
jqt '.audit | all(.admin == "alice" and .remote == "127.0.0.1" and (.at | test("Z$")))' \
    "each with who, from where and when"
jqt '.audit[] | select(.action == "approve") | .transaction == $t and .udid == $u' \
    "approve: its transaction and device" --arg t "$tid_a" --arg u "$UA"
jqt '.audit[] | select(.action == "revoke" and .serial == $s) | .udid == $u and .detail == "unspecified"' \
    "revoke by serial: its device and reason" --arg s "$serial_r" --arg u "$UV"
jqt '.audit[] | select(.action == "revoke" and .serial == $s) | .udid == $u
     and .detail == "cessationOfOperation, forgotten"' "forget's revocation" --arg s "$serial_b" --arg u "$UA"
jqt '.audit[] | select(.action == "forget") | .udid == $u and .detail == "1 certificates revoked"' \
    "forget: its device" --arg u "$UA"
jqt '[.audit[].at] == ([.audit[].at] | sort | reverse)' "newest first"
curl -s -u alice:secret -o "$T_WORK/page.html" "$base/ota/status"
has "$(cat "$T_WORK/page.html")" "<td class=\"action\">release</td><td class=\"mono udid\">$UA</td>" \
    "HTML: the audit list"

apache_stop
log_clean OTA00042 OTA00070 OTA00080 OTA00111 OTA00113 OTA00124 OTA00126 OTA00127 AH01631
done_testing
