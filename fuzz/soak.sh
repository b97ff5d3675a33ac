#!/bin/bash
# Licensed under the Apache License, Version 2.0 (see LICENSE).
# fuzz/soak.sh: memory soak of the module in a real apache2 (t/lib.sh's
# launcher and site).
# One mpm_event child (so its RSS is the module's), Basic auth, sqlite3;
# `ab` (apache2-utils) sends phase-1 GETs to /ota/profile: a warm-up,
# then SOAK_ROUNDS rounds of SOAK_REQUESTS, printing the child's RSS
# (ps -o rss) after each. Fails when a request fails, the child was
# replaced, or the RSS grew by more than SOAK_MAX_GROWTH_KB after the
# warm-up. Not part of `make test` (minutes): `make soak`.
#   SOAK_REQUESTS=10000 SOAK_ROUNDS=1 SOAK_WARMUP=2000 SOAK_CONCURRENCY=4
#   SOAK_MAX_GROWTH_KB=1024
#   SOAK_ASAN=1: load build-asan/mod_ota_enroll.so under the ASan runtime
#   with LeakSanitizer on at the child's exit (reports in build-asan/logs;
#   fails on any ASan/UBSan error and on a direct leak under a handler).
. "$(dirname "$0")/../t/lib.sh"

requests=${SOAK_REQUESTS:-10000}
rounds=${SOAK_ROUNDS:-1}
warmup=${SOAK_WARMUP:-2000}
conc=${SOAK_CONCURRENCY:-4}
max_growth=${SOAK_MAX_GROWTH_KB:-1024}

if ! command -v ab >/dev/null; then
    echo "Bail out! ab not found (Debian package apache2-utils)"
    exit 1
fi
t_setup ota-soak
if [ -n "${SOAK_ASAN:-}" ]; then
    logs=$T_TOP/build-asan/logs
    rm -rf "$logs" && mkdir -p "$logs" && chmod 1777 "$logs"
    export PATH=$T_TOP/fuzz/asan:$PATH
    export OTA_ASAN_MODULE=$T_TOP/build-asan/mod_ota_enroll.so
    export OTA_ASAN_RT=${OTA_ASAN_RT:-$(gcc -print-file-name=libasan.so)}
    export OTA_ASAN_LOGS=$logs
    export OTA_ASAN_LEAKS=1
fi

apache_start soak "
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MaxRequestWorkers 16
MinSpareThreads 1
MaxSpareThreads 32
MaxConnectionsPerChild 0
$(site_locations enroll=off scep=off)
"
ok $? "apache2 starts with the module${SOAK_ASAN:+ (ASan build)}"

parent=$(cat "$(dirname "$T_CONF")/httpd.pid")
child() { pgrep -P "$parent" | head -1; }
rss() { ps -o rss= -p "$1" | tr -d ' '; }

# run N: N GETs with ab; ok when every one answered 200
run() {
    local out=$T_WORK/ab.$RANDOM
    ab -q -n "$1" -c "$conc" -A alice:secret "$(t_url /ota/profile)" \
        >"$out" 2>&1
    grep -q '^Complete requests:[[:space:]]*'"$1"'$' "$out" \
        && grep -q '^Failed requests:[[:space:]]*0$' "$out" \
        && ! grep -q '^Non-2xx responses' "$out"
    local rc=$?
    [ $rc -eq 0 ] || sed 's/^/#   /' "$out" | tail -15
    RATE=$(sed -n 's/^Requests per second:[[:space:]]*\([0-9.]*\).*/\1/p' "$out")
    return $rc
}

pid=$(child)
echo "# child $pid, RSS at start: $(rss "$pid") KB"
run "$warmup"
ok $? "warm-up: $warmup GETs, all 200 (${RATE} req/s)"
base=$(rss "$pid")
echo "# RSS after the warm-up: $base KB"
total=0
last=$base
for round in $(seq 1 "$rounds"); do
    start=$(date +%s)
    run "$requests"
    ok $? "round $round: $requests GETs, all 200 (${RATE} req/s, $(( $(date +%s) - start )) s)"
    total=$((total + requests))
    last=$(rss "$pid")
    echo "# after $total GETs: RSS $last KB ($((last - base)) KB since the warm-up)"
done
is "$(child)" "$pid" "the same child served every request"
growth=$((last - base))
if [ -n "${SOAK_ASAN:-}" ]; then
    ok 0 "RSS grew $growth KB over $total GETs # SKIP ASan's quarantine keeps freed memory"
else
    [ "$growth" -le "$max_growth" ]
    ok $? "RSS grew $growth KB over $total GETs (limit $max_growth KB)"
fi
rows=$(db_count "SELECT count(*) FROM ota_challenge" 2>/dev/null)
echo "# challenges stored: $rows"
apache_stop
log_clean
if [ -n "${SOAK_ASAN:-}" ]; then
    sleep 1
    # At exit LeakSanitizer sees what the configuration loaded (keys,
    # stores: pconf is never cleared in a child) and what OpenSSL hangs on
    # them (RSA blinding, Montgomery caches: "indirect", made by the first
    # signatures). A leak per request is a direct one allocated under a
    # handler. Any other report is an error.
    errors=$(cat "$logs"/* 2>/dev/null | grep 'ERROR: AddressSanitizer\|runtime error')
    [ -z "$errors" ]
    ok $? "no AddressSanitizer or UBSan error"
    direct=$(cat "$logs"/* 2>/dev/null | awk '
        /^(Direct|Indirect) leak/ { kind = $1; head = $0; next }
        kind == "Direct" && /ap_run_handler|ap_process_request/ {
            print head; kind = "" }')
    [ -z "$direct" ]
    ok $? "no direct leak from a request"
    [ -z "$direct" ] || printf '%s\n' "$direct" | head -20 | sed 's/^/#   /'
    grep -h '^SUMMARY' "$logs"/* 2>/dev/null | sed 's/^/# at exit: /'
fi
done_testing
