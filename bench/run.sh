#!/bin/bash
# Licensed under the Apache License, Version 2.0 (see LICENSE).
# make bench: mod_ota_enroll under load, against its own crypto floor and
# against micromdm's scepserver, all in one run so that every claim is a
# ratio of numbers measured minutes apart on the same (shared, noisy)
# machine. See mk/bench.mk for the knobs, README.md ("Performance") for
# what it measured.
#
# Writes build/bench/results.txt (every measurement, then the Markdown
# summary, which is also printed) and keeps each step's output in
# build/bench/logs/.

set -u

. "$(dirname "$0")/../t/lib.sh"
. "$T_TOP/bench/lib.sh"
TOP=$T_TOP
FLOOR=$OUT/floor

N=${BENCH_N:-2000}
C=${BENCH_C:-8}
MPMS=${BENCH_MPMS:-event prefork}
# the MPM of the side experiments (database on tmpfs, P-256, long run)
BASE_MPM=${BENCH_BASE_MPM:-prefork}
if [ "${BENCH_LONG:-0}" = 1 ]; then
    LONG_N=${BENCH_LONG_N:-100000}
else
    LONG_N=${BENCH_LONG_N:-20000}
fi
# a run stops sending after DEADLINE s; a request gives up after TIMEOUT s
DEADLINE=${BENCH_DEADLINE:-15}
TIMEOUT=${BENCH_TIMEOUT:-10}

server_stopped() {   # the database errors each server logged
    record "$1-log" db_errors="$(grep -c OTA00014 "$2")" \
        db_locked="$(grep -c 'database is locked' "$2")"
}

t_workdir ota-bench || die "no work directory"
WORK=$T_WORK
SHM=
KV=$WORK/results.kv         # LABEL key=value ..., one line per measurement

cleanup() {
    server_stop
    for pid in "${T_PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    [ -n "$SHM" ] && rm -rf "$SHM"
    [ -n "${KEEP:-}" ] && echo "work directory kept: $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$OUT" "$LOGS"
rm -f "$LOGS"/*.log
[ -x "$DEV" ] && [ -x "$FLOOR" ] || die "build first: make all build/bench/floor"
pki_build || die "test PKI"

# ---- the record ----
record() {   # record LABEL KEY=VALUE...
    echo "$*" >>"$KV"
}
val() {   # val LABEL KEY: one value, or "-"
    awk -v l="$1" -v k="$2" '$1 == l { for (i = 2; i <= NF; i++) {
        n = index($i, "="); if (substr($i, 1, n - 1) == k) v = substr($i, n + 1) } }
        END { print (v == "" ? "-" : v) }' "$KV"
}
num() { [[ $1 =~ ^[-+]?[0-9]+(\.[0-9]+)?$ ]]; }
div() {   # div A B: A / B to 2 places, "-" when either is missing
    if num "$1" && num "$2"; then
        awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'
    else
        echo "-"
    fi
}
growth() {   # growth AFTER-KB BEFORE-KB: MiB
    if num "$1" && num "$2"; then
        awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.2f", (a - b) / 1024 }'
    else
        echo "-"
    fi
}
meets() {   # meets VALUE OP LIMIT: "met" or "not met"
    num "$1" && awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
        exit !((op == "<=" && v <= l) || (op == ">=" && v >= l) || (op == "<" && v < l)) }' \
        && echo met || echo "not met"
}
mib() {   # mib KB
    [ "$1" = "-" ] && { echo "-"; return; }
    awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'
}

# load LABEL ARGS...: one `ota-device load`, its LOAD line recorded
load() {
    local label=$1 line
    shift
    say "$label: ota-device load $*"
    "$DEV" load --timeout "$TIMEOUT" "$@" >"$LOGS/$label.log" 2>&1
    line=$(grep '^LOAD ' "$LOGS/$label.log" | tail -1)
    if [ -z "$line" ]; then
        echo "bench: $label produced no result:" >&2
        tail -5 "$LOGS/$label.log" >&2
        record "$label" failed=1
        return 1
    fi
    record "$label" "${line#LOAD }"
    grep -E '^first error' "$LOGS/$label.log" | sed "s/^/bench: $label: /"
    echo "bench: $label: $(echo "$line" | grep -oE '(rps|p50_ms|p99_ms|errors|server_cpu_us)=[^ ]*' | tr '\n' ' ')"
}

# warmup ID MPM: every process started (prefork spawns 1, 2, 4... more
# children a second while busy) and every thread run, before anything is
# timed: phase-1 loads until the parent has all its children
warmup() {
    local want=3 i
    [ "$2" = prefork ] && want=9
    for i in 1 2 3 4 5 6 7 8; do
        load "$1-warmup" --phase 1 --url "$BASE/ota/profile" --requests $((C * 40)) \
            --concurrency "$C" --pidfile "$SERVER_DIR/httpd.pid" >/dev/null
        [ "$(val "$1-warmup" procs_after)" -ge "$want" ] 2>/dev/null && break
    done
}

# phase ID PHASE: one timed run against the running server; every answer
# is checked (and its signature verified) after the clock stops
phase() {
    local id=$1 ph=$2 pidfile=$SERVER_DIR/httpd.pid
    local dev=(--identity "$PKI/device.pem" --key "$PKI/device.key"
               --chain "$PKI/device-ca-chain.pem")
    local common=(--requests "$N" --concurrency "$C" --deadline "$DEADLINE"
                  --pidfile "$pidfile")
    case $ph in
    1) load "$id-p1" --phase 1 --url "$BASE/ota/profile" "${common[@]}" \
           --trust "$PKI/signing-root.pem" ;;
    2) load "$id-p2" --phase 2 --url "$BASE/ota/profile" "${common[@]}" "${dev[@]}" \
           --trust "$PKI/signing-root.pem" ;;
    3) load "$id-p3" --phase 3 --url "$BASE/ota/profile" "${common[@]}" "${dev[@]}" \
           --trust "$PKI/signing-root.pem" ;;
    scep) load "$id-scep" --phase scep --url "$BASE/scep-static" "${common[@]}" \
           --challenge "$SECRET" ;;
    esac
}

# phases ID MPM DB-DIR CERT KEY PHASE...: each phase on a server started
# afresh (same database) and warmed up, so that no phase inherits another's
# stalls, children or connections
phases() {
    local id=$1 mpm=$2 dbdir=$3 cert=$4 key=$5 ph
    shift 5
    for ph in "$@"; do
        server_start "$id" "$mpm" "$dbdir" "$cert" "$key"
        warmup "$id" "$mpm"
        phase "$id" "$ph"
        server_stop
    done
}

T_START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "N=$N per phase, concurrency $C, MPMs: $MPMS; work in $WORK"

# ---- 1. the floor: openssl speed and bench/floor, server stopped ----
say "openssl speed -seconds 3 rsa1024 rsa2048 ecdsap256"
openssl speed -seconds 3 rsa1024 rsa2048 ecdsap256 >"$LOGS/openssl-speed.log" 2>&1
awk '/^rsa +1024 bits/ { print "speed rsa1024_sign=" $6 " rsa1024_verify=" $7 }
     /^rsa +2048 bits/ { print "speed rsa2048_sign=" $6 " rsa2048_verify=" $7 }
     /ecdsa \(nistp256\)/ { print "speed p256_sign=" $(NF-1) " p256_verify=" $NF }' \
    "$LOGS/openssl-speed.log" | while read -r l; do record $l; done

# a P-256 profile signing identity, issued by the test signing CA
EC=$WORK/ec
mkdir -p "$EC"
chmod 755 "$EC"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$EC/signing-ec.key" 2>/dev/null
cat >"$EC/ext.cnf" <<'EOF'
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = emailProtection, codeSigning
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
EOF
openssl req -new -key "$EC/signing-ec.key" -subj "/CN=OTA Bench P-256 Profile Signer" \
    -out "$EC/signing-ec.csr" 2>/dev/null
openssl x509 -req -in "$EC/signing-ec.csr" -CA "$PKI/signing-ca.pem" \
    -CAkey "$PKI/signing-ca.key" -set_serial "0x$(openssl rand -hex 12)" -days 30 \
    -sha256 -extfile "$EC/ext.cnf" -out "$EC/signing-ec.pem" 2>"$LOGS/ec-identity.log" \
    || die "cannot make the P-256 identity"
cat "$EC/signing-ec.pem" "$PKI/signing-ca.pem" >"$EC/signing-ec-chain.pem"
chmod 644 "$EC"/*

say "floor: bench/floor (1 s of CPU per operation)"
"$FLOOR" "$PKI" "$PROFILE" --seconds 1 --ec-cert "$EC/signing-ec-chain.pem" \
    --ec-key "$EC/signing-ec.key" --real-ca "$TOP/apple/apple-device-ca-chain.pem" \
    --real-body "$TOP/t/fixtures/apple-real/phase2-macos13-zentral.der" >"$LOGS/floor.log" 2>&1 || {
    cat "$LOGS/floor.log" >&2; die "floor failed"; }
grep '^FLOOR ' "$LOGS/floor.log" | while read -r _ op rest; do
    record "floor-${op#op=}" $rest
done

# ---- 2. the module under load, per MPM ----
SIGN=("$PKI/signing-chain.pem" "$PKI/signing.key")
for mpm in $MPMS; do
    phases "$mpm" "$mpm" "$WORK/$mpm/db" "${SIGN[@]}" 1 2 3 scep
done
# mpm_event again with one database connection per process (apr_dbd's
# sqlite3 driver serializes every call in a process anyway)
case " $MPMS " in *" event "*)
    DBD_LINES="DBDKeep 1
DBDMax 1"
    phases event-dbd1 event "$WORK/event-dbd1/db" "${SIGN[@]}" 1 2 3 scep
    DBD_LINES=
esac
FIRST_MPM=$BASE_MPM

# ---- 3. what the database costs: the same server, sqlite3 on tmpfs ----
if [ -d /dev/shm ] && SHM=$(mktemp -d /dev/shm/ota-bench.XXXXXX); then
    chmod 755 "$SHM"
    phases tmpfs "$FIRST_MPM" "$SHM/db" "${SIGN[@]}" 1 2 scep
fi


# ---- 4. ECDSA P-256 signing identity, phase 2 end to end ----
server_start ecdsa "$FIRST_MPM" "$WORK/ecdsa/db" "$EC/signing-ec-chain.pem" \
    "$EC/signing-ec.key"
warmup ecdsa "$FIRST_MPM"
phase ecdsa 2
# one answer checked by a real peer: openssl cms
"$DEV" enroll --url "$BASE/ota/profile" --identity "$PKI/device.pem" --key "$PKI/device.key" \
    --chain "$PKI/device-ca-chain.pem" --trust "$PKI/signing-root.pem" --stop-after phase2 \
    --save-dir "$WORK/ecdsa-enroll" >"$LOGS/ecdsa-enroll.log" 2>&1
if openssl cms -verify -inform DER -in "$WORK/ecdsa-enroll/phase2.der" \
        -CAfile "$PKI/signing-root.pem" -purpose any -out /dev/null 2>>"$LOGS/ecdsa-enroll.log"; then
    record ecdsa-peer openssl_cms_verify=ok signature="$(openssl cms -cmsout -print -inform DER \
        -in "$WORK/ecdsa-enroll/phase2.der" 2>/dev/null | grep -A1 'signatureAlgorithm:' \
        | sed -n 's/.*algorithm: *\([^ ]*\).*/\1/p' | head -1)"
else
    record ecdsa-peer openssl_cms_verify=failed
fi
server_stop

# ---- 5. micromdm's scepserver, the same SCEP load ----
scepserver_start "$SECRET" || die "scepserver did not start"
MDM_CAPS=$(curl -s "$SCEP_URL?operation=GetCACaps" | tr -d '\r' | tr '\n' ' ')
record micromdm caps="${MDM_CAPS// /,}"
load "micromdm-scep" --phase scep --url "$SCEP_URL" --requests "$N" \
    --concurrency "$C" --deadline "$DEADLINE" --challenge "$SECRET" --scep-legacy --server-pid "$SCEP_PID"
kill "$SCEP_PID" 2>/dev/null
wait "$SCEP_PID" 2>/dev/null
cp "$WORK/scepserver/log" "$LOGS/scepserver.log" 2>/dev/null

# ---- 6. resident memory over a long phase-1 run ----
server_start "long" "$FIRST_MPM"
warmup long "$FIRST_MPM"
load "long-warmup" --phase 1 --url "$BASE/ota/profile" --requests "$N" \
    --concurrency "$C" --deadline "$DEADLINE" --pidfile "$SERVER_DIR/httpd.pid"
load "long" --phase 1 --url "$BASE/ota/profile" --requests "$LONG_N" \
    --concurrency "$C" --pidfile "$SERVER_DIR/httpd.pid" --rss-every $((LONG_N / 10))
DB_BYTES=$(stat -c %s "$SERVER_DIR/db/ota.db" 2>/dev/null || echo -)
record long-db bytes="$DB_BYTES"
server_stop

# ---- 7. the profile of phase 2 (BENCH_PROFILE=0: not this time) ----
rm -f "$OUT/profile.txt"
if [ "${BENCH_PROFILE:-1}" != 0 ]; then
    bash "$TOP/bench/profile.sh" >"$LOGS/profile.log" 2>&1 \
        || say "the profile failed: $LOGS/profile.log"
fi

T_END=$(date +%s)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report ----
report() {
    local mpm ph label cpu fl ratio err
    echo "## mod_ota_enroll: make bench"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), $((T_END - T_START)) s"
    echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"\
         "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, load average $LOAD_START at the start, $LOAD_END at the end (shared machine: compare ratios, not absolute numbers)"
    echo "- software: $(apache2 -v | sed -n 's/^Server version: //p'), $(openssl version | cut -d' ' -f1-2), sqlite $(sqlite3 --version | cut -d' ' -f1), $(curl --version | head -1 | cut -d' ' -f1-2), scep $(dpkg-query -W -f '${Version}' scep 2>/dev/null)"
    echo "- load: $N requests per phase, $C in flight on keep-alive connections (\`ota-device load\`, libcurl multi), every request valid and prepared before the clock started; LogLevel warn, an access log, KeepAlive on (100 requests, 5 s)"
    echo "- prefork: StartServers 4, MaxRequestWorkers 8; event: 2 processes x 8 threads, DBDKeep/DBDMax 8; sqlite3 by mod_dbd on $(df --output=fstype "$WORK" | tail -1); built-in CA (RSA 2048); profiles signed by RSA 2048 (SHA-256)"
    echo
    echo "| MPM | phase | req/s | p50 ms | p99 ms | errors | server CPU µs/req | floor µs/op | CPU ÷ floor | RSS sum MiB before → after | RSS max MiB before → after |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for mpm in $MPMS event-dbd1 tmpfs ecdsa; do
        for ph in p1 p2 p3 scep; do
            label=$mpm-$ph
            [ "$(val "$label" rps)" = "-" ] && [ "$(val "$label" failed)" = "-" ] && continue
            case $ph in
            p1) fl=$(val floor-phase1 us) ;;
            p2) fl=$(val floor-phase2 us); [ "$mpm" = ecdsa ] && fl=$(val floor-phase2_ec us) ;;
            p3) fl=$(val floor-phase3 us) ;;
            scep) fl=$(val floor-scep us) ;;
            esac
            cpu=$(val "$label" server_cpu_us)
            ratio=$(div "$cpu" "$fl")
            err=$(val "$label" errors)
            [ "$(val "$label" failed)" = 1 ] && err="no result: $(grep '^ota-device:' "$LOGS/$label.log" | tail -1 | sed 's/^ota-device: //; s/|/\\|/g')"
            [ "$(val "$label" unsent)" != "-" ] && [ "$(val "$label" unsent)" != 0 ] \
                && err="$err of $(val "$label" requests) sent (stopped at $DEADLINE s)"
            echo "| $(case $mpm in tmpfs) echo "$FIRST_MPM, db on tmpfs" ;; ecdsa) echo "$FIRST_MPM, P-256 signer" ;; event-dbd1) echo "event, DBDMax 1" ;; *) echo "$mpm" ;; esac)" \
                "| ${ph#p} | $(val "$label" rps) | $(val "$label" p50_ms) | $(val "$label" p99_ms)" \
                "| $err | $cpu (sys $(val "$label" server_sys_us)) | $fl | $ratio" \
                "| $(mib "$(val "$label" rss_before_sum_kb)") → $(mib "$(val "$label" rss_after_sum_kb)")" \
                "| $(mib "$(val "$label" rss_before_max_kb)") → $(mib "$(val "$label" rss_after_max_kb)") |"
        done
    done
    echo "| micromdm scepserver | scep | $(val micromdm-scep rps) | $(val micromdm-scep p50_ms) | $(val micromdm-scep p99_ms)" \
        "| $(val micromdm-scep errors) | $(val micromdm-scep server_cpu_us) | - | -" \
        "| $(mib "$(val micromdm-scep rss_before_sum_kb)") → $(mib "$(val micromdm-scep rss_after_sum_kb)") | - |"
    echo
    echo "Floor (bench/floor, CPU µs per operation, core functions only): phase 1 $(val floor-phase1 us)," \
         "phase 2 $(val floor-phase2 us) (verify $(val floor-phase2_verify us) + sign $(val floor-phase2_sign us))," \
         "phase 3 $(val floor-phase3 us), SCEP $(val floor-scep us), phase 2 with the P-256 signer $(val floor-phase2_ec us);" \
         "the verification of a real macOS 13 phase-2 body (t/fixtures/apple-real, $(val floor-phase2_verify_real bytes) bytes, Apple's chain) takes $(val floor-phase2_verify_real us) µs, the emulator's ($(val floor-phase2_verify bytes) bytes) $(val floor-phase2_verify us)."
    echo "\`openssl speed -seconds 3\`: RSA 1024 $(val speed rsa1024_sign) sign/s, $(val speed rsa1024_verify) verify/s;" \
         "RSA 2048 $(val speed rsa2048_sign) sign/s ($(div 1000000 "$(val speed rsa2048_sign)") µs), $(val speed rsa2048_verify) verify/s;" \
         "ECDSA P-256 $(val speed p256_sign) sign/s ($(div 1000000 "$(val speed p256_sign)") µs), $(val speed p256_verify) verify/s."
    echo
    echo "### Ratios"
    echo
    local user
    for mpm in $MPMS event-dbd1 tmpfs; do
        [ "$(val "$mpm-p2" server_cpu_us)" = - ] && continue
        ratio=$(div "$(val "$mpm-p2" server_cpu_us)" "$(val floor-phase2 us)")
        user=$(awk -v c="$(val "$mpm-p2" server_cpu_us)" -v s="$(val "$mpm-p2" server_sys_us)" 'BEGIN { print c - s }')
        echo "- phase 2, $(case $mpm in tmpfs) echo "$FIRST_MPM, database on tmpfs" ;; event-dbd1) echo "event, DBDMax 1" ;; *) echo "$mpm" ;; esac): server CPU ÷ floor = **$ratio** (target ≤ 1.3: $(meets "$ratio" "<=" 1.3)); user-space CPU alone ÷ floor = $(div "$user" "$(val floor-phase2 us)")"
    done
    echo "- answer sizes, server (mean) vs floor, bytes: phase 1 $(val "$FIRST_MPM-p1" answer_bytes) vs $(val floor-phase1 bytes), phase 2 $(val "$FIRST_MPM-p2" answer_bytes) vs $(val floor-phase2 bytes), phase 3 $(val "$FIRST_MPM-p3" answer_bytes) vs $(val floor-phase3 bytes), SCEP $(val "$FIRST_MPM-scep" answer_bytes) vs $(val floor-scep bytes)"
    for mpm in $MPMS; do
        ratio=$(div "$(val "$mpm-scep" rps)" "$(val micromdm-scep rps)")
        echo "- SCEP PKIOperation, $mpm vs micromdm scepserver at concurrency $C: $(val "$mpm-scep" rps) / $(val micromdm-scep rps) req/s = **$ratio×** (target ≥ 3: $(meets "$ratio" ">=" 3)); CPU per request $(val "$mpm-scep" server_cpu_us) vs $(val micromdm-scep server_cpu_us) µs"
    done
    echo "- micromdm scepserver: GetCACaps answers \`$MDM_CAPS\`; the load sent AES-256-CBC / SHA-256 PKCSReq: $(val micromdm-scep ok) of $N got a SUCCESS CertRep"
    case " $MPMS " in *" event "*" prefork "*|*" prefork "*" event "*)
        for ph in p1 p2 p3 scep; do
            echo "- processes vs threads, phase ${ph#p}: prefork $(val "prefork-$ph" rps) req/s at $(val "prefork-$ph" server_cpu_us) µs/req; event $(val "event-$ph" rps) req/s at $(val "event-$ph" server_cpu_us) µs/req ($(val "event-$ph" errors) errors$( [ "$(val "event-$ph" unsent)" = 0 ] || echo ", stopped after $(val "event-$ph" requests) sent")); event with DBDMax 1 $(val "event-dbd1-$ph" rps) req/s at $(val "event-dbd1-$ph" server_cpu_us) µs/req"
        done
    esac
    for ph in p1 p2 p3 scep; do
        echo "- the database, phase ${ph#p} ($FIRST_MPM): sqlite3 on disk (the module's WAL mode) $(val "$FIRST_MPM-$ph" rps) req/s, p99 $(val "$FIRST_MPM-$ph" p99_ms) ms, CPU $(val "$FIRST_MPM-$ph" server_cpu_us) µs/req$( [ "$(val "tmpfs-$ph" rps)" = - ] || echo "; on tmpfs (no fsync) $(val "tmpfs-$ph" rps) req/s (× $(div "$(val "tmpfs-$ph" rps)" "$(val "$FIRST_MPM-$ph" rps)")), p99 $(val "tmpfs-$ph" p99_ms) ms, CPU $(val "tmpfs-$ph" server_cpu_us) µs/req")"
    done
    case " $MPMS " in *" event "*)
        echo "- mpm_event with sqlite3 and 8 database connections per process: phase 2 $(val event-p2 errors) errors of $(val event-p2 requests) sent, SCEP $(val event-scep errors) of $(val event-scep requests), p99 $(val event-p2 p99_ms) / $(val event-scep p99_ms) ms, 'database is locked' logged $(val event-log db_locked) times (sqlite3 connections keep no busy timeout: a busy handler would sleep inside apr_dbd's per-process mutex and stall the thread holding the write lock); with DBDMax 1: $(val event-dbd1-p2 errors) and $(val event-dbd1-scep errors) errors"
    esac
    echo "- ECDSA P-256 signing identity ($FIRST_MPM): phase 2 end to end, every answer verified by the client: $(val ecdsa-p2 ok) of $N ok (one answer also checked by \`openssl cms -verify\`: $(val ecdsa-peer openssl_cms_verify), signature $(val ecdsa-peer signature)), $(val ecdsa-p2 rps) req/s vs $(val "$FIRST_MPM-p2" rps) with RSA 2048 (× $(div "$(val ecdsa-p2 rps)" "$(val "$FIRST_MPM-p2" rps)")), CPU $(val ecdsa-p2 server_cpu_us) vs $(val "$FIRST_MPM-p2" server_cpu_us) µs/req"
    local b s a m grow_sum grow_max first half
    b=$(val long rss_before_sum_kb); a=$(val long rss_after_sum_kb)
    s=$(val long rss_before_max_kb); m=$(val long rss_after_max_kb)
    grow_sum=$(growth "$a" "$b"); grow_max=$(growth "$m" "$s")
    first=$(grep '^RSS ' "$LOGS/long.log" | head -1 | sed 's/.*sum_kb=\([0-9]*\).*/\1/')
    half=$(grep '^RSS ' "$LOGS/long.log" | sed -n '5p' | sed 's/.*sum_kb=\([0-9]*\).*/\1/')
    echo "- resident memory over $LONG_N phase-1 requests after a $N-request warm-up ($FIRST_MPM, $(val long errors) errors, $(val long rps) req/s, database $(( ${DB_BYTES:-0} / 1024 )) KiB at the end): sum of all apache2 processes $(mib "$b") → $(mib "$a") MiB (**$grow_sum MiB**; $(mib "${first:-0}") MiB after the first tenth; over the second half $(growth "$a" "${half:--}") MiB), largest process $(mib "$s") → $(mib "$m") MiB (**$grow_max MiB**); target < 1 MiB: $(meets "$grow_sum" "<" 1) for the sum, $(meets "$grow_max" "<" 1) per process$( [ "${BENCH_LONG:-0}" = 1 ] || echo " (BENCH_LONG=1 runs the full 100,000)")"
    echo "  - samples: $(grep '^RSS ' "$LOGS/long.log" | sed 's/RSS answers=\([0-9]*\) procs=\([0-9]*\) sum_kb=\([0-9]*\) max_kb=\([0-9]*\)/\1:\3\/\4(\2)/' | tr '\n' ' ')(answers:sum/max KiB(processes))"
    if [ -s "$OUT/profile.txt" ]; then
        echo
        echo "### Profile of phase 2 ($(head -1 "$OUT/profile.txt"))"
        echo
        echo '```'
        sed -n '3p' "$OUT/profile.txt" | fold -s -w 100
        sed -n '/^## selected functions/,/^$/p' "$OUT/profile.txt"
        if grep -q '^# time, not instructions' "$OUT/profile.txt"; then
            sed -n '/^# time, not instructions/,$p' "$OUT/profile.txt" | sed -n '2p'
            sed -n '/^## by library or kernel/,/^$/p' "$OUT/profile.txt" | head -9
            echo "kernel paths:"
            sed -n '/^## kernel paths/,/^$/p' "$OUT/profile.txt" \
                | grep -E '\[k\] (__x64_sys_fdatasync|schedule|handle_softirqs|__x64_sys_(sendto|write|writev|read|recvfrom|epoll_wait|poll))( |$)' \
                | sed 's/ *- *- *$//'
        fi
        echo '```'
        echo "(all of it: build/bench/profile.txt)"
    fi
}

{
    echo "# raw measurements (LABEL key=value)"
    cat "$KV"
    echo
    report
} >"$OUT/results.txt"
report
echo
say "results: $OUT/results.txt, logs: $LOGS/"
