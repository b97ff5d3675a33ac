#!/bin/bash
# The admin's buttons in a real browser: headless Chromium (Debian's
# chromium) driven by puppeteer-core from npm (t/browser/, installed into
# build/browser/ from its lock file, reinstalled only when the lock
# changes; nothing downloads a browser). A device's request is held
# (OTAEnrollSCEPApproval manual); alice logs in with Basic auth, cancels a
# Reject, confirms Approve, watches the device get its certificate and
# phase 3 through, revokes it; bob, whom Apache lets look but not POST,
# gets 401; forms posted from another origin get 403. Screenshots in
# build/artifacts/browser-*.png.
. "$(dirname "$0")/lib.sh"
t_setup

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
ARTIFACTS=$T_BUILD/artifacts
BROWSER_DIR=$T_BUILD/browser
profile=$T_TOP/t/fixtures/profiles/configuration.mobileconfig
U1=0F0F0F0F-0000-4000-8000-00000000F001     # approved, then revoked
U2=0F0F0F0F-0000-4000-8000-00000000F002     # held: the forged posts' target

missing=
for tool in node npm "$CHROMIUM"; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
# CI has Node.js and npm on the machine and installs chromium from
# .ci/packages-test: there a missing one is a failure, not a skip.
if [ -n "$missing" ] && [ "${CI:-}" = true ]; then
    echo "Bail out! not installed:$missing"
    exit 1
elif [ -n "$missing" ]; then
    skip "not installed:$missing" "the admin's buttons in a browser"
    done_testing
    exit
fi

# puppeteer-core at the versions of t/browser/package-lock.json
browser_install() {
    local lock=$T_TOP/t/browser/package-lock.json
    if cmp -s "$lock" "$BROWSER_DIR/package-lock.json" \
       && [ -f "$BROWSER_DIR/node_modules/puppeteer-core/package.json" ]; then
        return 0
    fi
    mkdir -p "$BROWSER_DIR"
    cp "$T_TOP/t/browser/package.json" "$BROWSER_DIR/"
    rm -f "$BROWSER_DIR/package-lock.json"
    (cd "$BROWSER_DIR" && cp "$lock" . && PUPPETEER_SKIP_DOWNLOAD=1 \
        npm ci --no-audit --no-fund --ignore-scripts) >"$T_WORK/npm.log" 2>&1 \
        || { sed 's/^/#   /' "$T_WORK/npm.log" | tail -20; rm -f "$BROWSER_DIR/package-lock.json"; return 1; }
}
browser_install
ok $? "puppeteer-core installed in $BROWSER_DIR"
cp "$T_TOP/t/browser/admin.mjs" "$BROWSER_DIR/admin.mjs"

T_PORT_FIXED=$(free_port)
base=http://127.0.0.1:$T_PORT_FIXED
apache_start browser "
$(site_locations final="$profile" status=look \
    enroll_extra="OTAEnrollSCEPRetries 120
OTAEnrollSCEPRetryDelay 1" \
    scep_extra="OTAEnrollSCEPApproval manual")"
ok $? "apache2 starts with OTAEnrollSCEPApproval manual"

enroll() {   # enroll NAME UDID ARGS...: the emulated device, alice's
    local name=$1 udid=$2
    shift 2
    device_enroll "$name" "$base/ota/profile" alice device --udid "$udid" "$@"
}

# held NAME UDID: the device enrolls in the background until its request
# is held; D1, D1_PID and tid1 name it. A device that ends before (it
# should not) is explained on stderr and started once more.
held() {
    D1=$1
    enroll "$D1" "$2" &
    D1_PID=$!
    T_PIDS+=("$D1_PID")
    tid1=$(wait_pending "$2" "$D1_PID")
}
held d1 "$U1"
if [ -z "$tid1" ]; then
    t_explain "$T_WORK/d1.out" "the device ended before its request was held"
    t_explain "$T_LOG" "the server's warnings and errors"
    held d1-again "$U1"
fi
[ -n "$tid1" ]
ok $? "the device's request is held${D1#d1}"
enroll d2 "$U2" --stop-after phase2
challenge=$(tr -d '\n\t' <"$T_WORK/d2/phase2.plist" \
    | sed -n 's/.*<key>Challenge<\/key><string>\([^<]*\)<.*/\1/p')
"$OTA_DEVICE" scep --url "$base/ota/scep" --subject "/O=Example Inc./CN=$U2" \
    --challenge "$challenge" >"$T_WORK/d2-scep.out" 2>&1
is "$?" 7 "a second one is held (PENDING)"
tid2=$(wait_pending "$U2")

mkdir -p "$ARTIFACTS"
rm -f "$ARTIFACTS"/browser-*.png
forged0=$(log_count OTA00111)
OTA_BASE=$base OTA_UDID=$U1 OTA_OTHER_TID=$tid2 CHROMIUM=$CHROMIUM ARTIFACTS=$ARTIFACTS \
USER_DATA_DIR=$(mktemp -d "$T_WORK/chromium.XXXXXX") \
    timeout 240 node "$BROWSER_DIR/admin.mjs" >"$T_WORK/browser.out" 2>"$T_WORK/browser.err"
ok $? "the browser session ran (node $(node --version), $("$CHROMIUM" --version 2>/dev/null))"
[ -s "$T_WORK/browser.err" ] && sed 's/^/#   /' "$T_WORK/browser.err" | head -20
checks=0
while read -r word pass name; do
    [ "$word" = CHECK ] || continue
    checks=$((checks + 1))
    [ "$pass" = 1 ]
    ok $? "browser: $name"
done <"$T_WORK/browser.out"
is "$checks" 18 "every browser check reported"

wait "$D1_PID"
ok $? "the emulated device got its certificate and finished phase 3"
has "$(cat "$T_WORK/$D1.out")" "RESULT: enrolled, final profile installed" "final profile installed"
serial=$(cert_serial "$D1" 2>/dev/null)
is "$(sed -n 's/^SERIAL //p' "$T_WORK/browser.out")" "$serial" "the page showed that certificate"
is "$(db_count "select revoked_reason from ota_certificate where serial = '$serial'")" 0 \
   "revoked in the registry (unspecified)"
is "$(db_count "select decision || '/' || decided_by from ota_pending where transaction_id = '$tid1'")" \
   "approved/alice" "approved by alice"
is "$(db_count "select coalesce(decision, 'waiting') from ota_pending where transaction_id = '$tid2'")" \
   waiting "the forged posts and bob's click changed nothing"
is "$(( $(log_count OTA00111) - forged0 ))" 2 "OTA00111 for each forged post"
is "$(db_count "select group_concat(action || ':' || admin, ' ') from (select * from ota_audit order by at)")" \
   "approve:alice revoke:alice" "audited: alice's approval and revocation only"
n=$(ls "$ARTIFACTS"/browser-*.png 2>/dev/null | wc -l)
is "$n" 5 "screenshots in $ARTIFACTS"

apache_stop
log_clean OTA00111 AH01631
done_testing
