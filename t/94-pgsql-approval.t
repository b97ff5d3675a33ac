#!/bin/bash
# Approval across a cluster: two apache2 servers (A and B) on one
# PostgreSQL, the built-in CA holding requests (OTAEnrollSCEPApproval
# manual). A device enrolls through B; A's page lists its held request;
# an admin approves it on A; B's answer to the device's next poll is the
# certificate, and phase 3 follows on B. A second request rejected on B
# fails on A. Both pages show the same audit.
. "$(dirname "$0")/lib.sh"
pg_setup

profile=$T_TOP/t/fixtures/profiles/configuration.mobileconfig
U1=0A0A0A0A-0000-4000-8000-0000000A9001    # approved on A, issued by B
U2=0B0B0B0B-0000-4000-8000-0000000B9002    # rejected on B, refused by A
ab_start "$(pg_dbd)
DBDPersist On
DBDMin 0
$(site_locations final="$profile" status=on \
    enroll_extra="OTAEnrollSCEPRetries 60
OTAEnrollSCEPRetryDelay 1" \
    scep_extra="OTAEnrollSCEPApproval manual")"

enroll_bg() {   # enroll_bg NAME SERVER UDID: the device, in the background
    device_enroll "$1" "$2/ota/profile" alice device --udid "$3" &
    BG_PID=$!
    T_PIDS+=("$BG_PID")
}
held_on() {   # held_on SERVER UDID: its transaction, once SERVER's page lists it (20 s)
    local tid
    for _ in $(seq 1 100); do
        tid=$(curl -s -u alice:secret "$1/ota/status?format=json" \
              | jq -r --arg u "$2" '.pending[] | select(.udid == $u) | .transaction')
        [ -n "$tid" ] && { echo "$tid"; return 0; }
        sleep 0.2
    done
    return 1
}
act() {   # act SERVER JSON: the HTTP status
    curl -s -o "$T_WORK/act.out" -w '%{http_code}' -u alice:secret \
        -H 'Content-Type: application/json' --data-binary "$2" "$1/ota/status"
}

enroll_bg d1 "$B" "$U1"
D1_PID=$BG_PID
tid1=$(held_on "$A" "$U1")
ok $? "the device enrolls through B; A's page lists its held request"
like "$(cat "$T_WORK/d1.out")" "PENDING" "the device is told PENDING by B"
is "$(act "$A" "{\"action\":\"approve\",\"transaction\":\"$tid1\"}")" 200 "approved on A"
wait "$D1_PID"
ok $? "B answers the device's next poll with the certificate; phase 3 on B"
has "$(cat "$T_WORK/d1.out")" "RESULT: enrolled, final profile installed" "final profile installed"
serial=$(cert_serial d1)
is "$(pg_sql "select transaction_id || '/' || username from ota_certificate where serial = '$serial'")" \
   "$tid1/alice" "recorded in the shared store under the held transaction"
is "$(grep -c "OTA00069: issued certificate $serial .*approved by alice" "$B_LOG")" 1 \
   "issued by B (OTA00069 in B's log)"
is "$(grep -c "OTA00120: request $tid1" "$A_LOG")" 1 "approved by A (OTA00120 in A's log)"

enroll_bg d2 "$A" "$U2"
D2_PID=$BG_PID
tid2=$(held_on "$B" "$U2")
ok $? "a second device enrolls through A; B lists its request"
is "$(act "$B" "{\"action\":\"reject\",\"transaction\":\"$tid2\"}")" 200 "rejected on B"
is "$(act "$A" "{\"action\":\"approve\",\"transaction\":\"$tid2\"}")" 409 "approving it on A: 409"
wait "$D2_PID"
is "$?" 5 "A answers its next poll with FAILURE"
is "$(grep -c "OTA00126: .*request $tid2 rejected by alice" "$A_LOG")" 1 "OTA00126 in A's log"

for s in "$A" "$B"; do
    curl -s -u alice:secret "$s/ota/status?format=json" | jq -c '[.audit[] | [.action, .transaction]]' \
        >"$T_WORK/audit-${s##*:}.json"
done
cmp -s "$T_WORK/audit-$A_PORT.json" "$T_WORK/audit-$B_PORT.json"
ok $? "A and B show the same audit"
is "$(jq -c 'map(.[0]) | sort' "$T_WORK/audit-$A_PORT.json")" '["approve","reject"]' \
   "the approval and the rejection"

T_CONF=$A_CONF T_LOG=$A_LOG log_clean OTA00124 OTA00126
T_CONF=$B_CONF T_LOG=$B_LOG log_clean
done_testing
