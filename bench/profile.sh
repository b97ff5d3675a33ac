#!/bin/bash
# Licensed under the Apache License, Version 2.0 (see LICENSE).
# make bench-profile: where a phase-2 request's CPU goes, beyond the
# verification and the signature, measured once and written to
# build/bench/profile.txt.
#
# With hardware counters (`perf stat -e instructions true` counts), perf
# records the apache2 children (mpm_prefork) during a phase-2 load.
# Without them (most VMs), callgrind counts the instructions of one
# `apache2 -X` process: the challenges are minted by a normal server
# first, then the same configuration and database are served under
# valgrind and only the phase-2 posts are counted (from
# ap_run_process_connection down). BENCH_PROFILER=perf|callgrind
# overrides the choice, BENCH_PROFILE_N (200) the number of requests.

set -u

. "$(dirname "$0")/../t/lib.sh"
. "$T_TOP/bench/lib.sh"
NP=${BENCH_PROFILE_N:-200}
REPORT=$OUT/profile.txt

t_workdir ota-profile || die "no work directory"
WORK=$T_WORK
VG_PID=
LOAD_PID=
cleanup() {
    [ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null
    [ -n "$VG_PID" ] && kill "$VG_PID" 2>/dev/null
    server_stop
    [ -n "${KEEP:-}" ] && echo "work directory kept: $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$OUT" "$LOGS"
[ -x "$DEV" ] || die "build first: make all"
pki_build || die "test PKI"

PROFILER=${BENCH_PROFILER:-}
if [ -z "$PROFILER" ]; then
    if perf stat -e instructions true 2>&1 | grep -q 'not supported' \
            || ! perf stat -e instructions true >/dev/null 2>&1; then
        PROFILER=callgrind
    else
        PROFILER=perf
    fi
fi
say "profile of phase 2 with $PROFILER, $NP requests"

# load_ready C N: the phase-2 load, prepared (challenges minted, bodies
# signed), waiting for $WORK/go
load_ready() {
    rm -f "$WORK/go"
    "$DEV" load --phase 2 --url "$BASE/ota/profile" --requests "$2" \
        --concurrency "$1" --identity "$PKI/device.pem" --key "$PKI/device.key" \
        --chain "$PKI/device-ca-chain.pem" --timeout 120 --start-after "$WORK/go" \
        >"$LOGS/profile-load.log" 2>&1 &
    LOAD_PID=$!
    for _ in $(seq 1 600); do
        grep -q '^READY' "$LOGS/profile-load.log" 2>/dev/null && return 0
        kill -0 "$LOAD_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$LOGS/profile-load.log" >&2
    die "the load did not get ready"
}

load_finish() {
    wait "$LOAD_PID"
    LOAD_PID=
    grep '^LOAD ' "$LOGS/profile-load.log" >&2 || die "the load failed"
}

# ---- perf: the children of a normal prefork server ----
# profile_perf EVENT: samples every apache2 child during a phase-2 load
# (hardware cycles, or cpu-clock where a VM has no counters: then it is a
# complement to callgrind that sees the kernel, fsync included).
profile_perf() {
    local event=$1 pids perf_pid i
    server_start profile prefork
    for i in 1 2 3 4 5 6 7 8; do
        "$DEV" load --phase 1 --url "$BASE/ota/profile" --requests 400 --concurrency 8 \
            >/dev/null 2>&1
        [ "$(pgrep -c -P "$(cat "$SERVER_DIR/httpd.pid")" apache2)" -ge 8 ] && break
    done
    load_ready 8 $((NP * 5))
    pids=$(pgrep -d, -P "$(cat "$SERVER_DIR/httpd.pid")" apache2)
    perf record -e "$event" -g -o "$WORK/perf.data" -p "$pids" \
        >"$LOGS/profile-perf.log" 2>&1 &
    perf_pid=$!
    sleep 1
    touch "$WORK/go"
    load_finish
    kill -INT "$perf_pid"
    wait "$perf_pid"
    server_stop
    # symbols: named ones only (Debian's libraries are stripped: their
    # internal functions show as addresses, counted in the library line)
    report() {
        perf report -i "$WORK/perf.data" --stdio "$@" -g none 2>/dev/null \
            | grep -v '^#' | sed '/^$/d' | grep -Ev '\] +(0x)?[0-9a-f]{12,}' 
    }
    echo "perf record -e $event -g, the apache2 children (mpm_prefork, 8 processes), $((NP * 5)) phase-2 requests at concurrency 8, database on disk"
    echo
    echo "## by library or kernel (self)"
    report --no-children --sort dso | head -15
    echo
    echo "## kernel paths, inclusive (call chains)"
    report --children --sort symbol --percent-limit 1 | grep '\[k\]' | head -25
    echo
    echo "## named functions, self, top 30"
    report --no-children --sort dso,symbol --percent-limit 0.3 | head -30
}

# ---- callgrind: apache2 -X ----
profile_callgrind() {
    local cg=$WORK/cg out total
    mkdir -p "$cg"
    chmod 777 "$cg"
    # callgrind checks its output file at startup, as root, and writes it
    # at exit, as the User: make it the User's beforehand
    touch "$cg/callgrind.out"
    chmod 666 "$cg/callgrind.out"
    [ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$cg/callgrind.out"
    # a normal server mints the challenges...
    server_start profile prefork
    load_ready 1 "$NP"
    local dir=$SERVER_DIR
    server_stop
    # ...the same configuration and database then run under callgrind
    valgrind --tool=callgrind --vgdb=no --collect-atstart=no \
        --toggle-collect=ap_run_process_connection \
        --callgrind-out-file="$cg/callgrind.out" \
        apache2 -X -d "$dir" -f "$dir/httpd.conf" >"$LOGS/profile-valgrind.log" 2>&1 &
    VG_PID=$!
    for _ in $(seq 1 1200); do
        curl -s -o /dev/null "$BASE/ota/scep?operation=GetCACaps" && break
        kill -0 "$VG_PID" 2>/dev/null || { cat "$LOGS/profile-valgrind.log" >&2; die "valgrind stopped"; }
        sleep 0.1
    done
    touch "$WORK/go"
    load_finish
    kill -TERM "$VG_PID"
    wait "$VG_PID"
    VG_PID=
    cp "$dir/error.log" "$LOGS/profile-error.log" 2>/dev/null
    out=$cg/callgrind.out
    [ -s "$out" ] || die "no callgrind output"
    cp "$out" "$OUT/callgrind.out.phase2"
    callgrind_annotate --inclusive=yes --threshold=100 "$out" >"$WORK/incl.txt" 2>/dev/null
    callgrind_annotate --inclusive=no --threshold=99 "$out" >"$WORK/self.txt" 2>/dev/null
    total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }' "$WORK/incl.txt")
    # the same count for the floor's phase 2 (verify + sign, same inputs)
    local fl_n=20 fl_total=
    if [ -x "$OUT/floor" ] && valgrind --tool=callgrind --vgdb=no --collect-atstart=no \
            --toggle-collect=op_phase2 --callgrind-out-file="$WORK/floor.cg" \
            "$OUT/floor" "$PKI" "$PROFILE" --only phase2 --iterations "$fl_n" \
            >"$LOGS/profile-floor.log" 2>&1; then
        fl_total=$(callgrind_annotate "$WORK/floor.cg" 2>/dev/null \
            | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
    fi
    {
        echo "callgrind (instructions), apache2 -X (mpm_prefork, one process), $NP phase-2 requests"
        echo "(the GetCACaps probe that waited for valgrind's start is included: one request)"
        echo "total: $total Ir, $(awk -v t="$total" -v n="$NP" 'BEGIN { printf "%.0f", t / n }') Ir per request;" \
             "the floor's phase 2 (bench/floor: ota_cms_verify + ota_cms_sign, same sizes):" \
             "$(awk -v t="${fl_total:-0}" -v n="$fl_n" 'BEGIN { printf "%.0f", t / n }') Ir per operation" \
             "(server ÷ floor, in instructions: $(awk -v s="$total" -v n="$NP" -v f="${fl_total:-0}" -v m="$fl_n" 'BEGIN { if (f > 0) printf "%.2f", (s / n) / (f / m); else print "-" }'))"
        echo
        echo "## selected functions, inclusive share of the total"
        share() {   # share LABEL REGEX: the largest inclusive cost whose name matches
            awk -v t="$total" -v label="$1" -v re=":($2)( \\[|$)" '
                $0 ~ re && $2 ~ /^\(/ { gsub(",", "", $1); if ($1 + 0 > best) best = $1 + 0 }
                END { printf "%-66s %6.2f%%\n", label, 100 * best / t }' "$WORK/incl.txt"
        }
        share "phase-2 handler (enroll_handler)" 'enroll_handler'
        share "  verify (ota_cms_verify_any)" 'ota_cms_verify_any'
        share "    decoding the posted CMS (d2i_CMS_ContentInfo)" 'd2i_CMS_ContentInfo'
        share "      a decoder per certificate key (OSSL_DECODER_CTX_new_for_pkey)" 'OSSL_DECODER_CTX_new_for_pkey'
        share "    chain (ota_trust_verify_cert)" 'ota_trust_verify_cert'
        share "    RSA public operations (RSA_public_decrypt)" 'RSA_public_decrypt'
        share "  sign (ota_cms_sign)" 'ota_cms_sign'
        share "    RSA private operation (RSA_private_encrypt)" 'RSA_private_encrypt'
        share "  OpenSSL read locks (CRYPTO_THREAD_read_lock, everywhere)" 'CRYPTO_THREAD_read_lock'
        share "  subrequest (ap_sub_req_lookup_uri: local_ca_of)" 'ap_sub_req_lookup_uri'
        share "  database open (ota_db_open: mod_dbd, prepare)" 'ota_db_open'
        share "    sqlite3_prepare_v2" 'sqlite3_prepare|sqlite3_prepare_v2|sqlite3_prepare_v3'
        share "  challenge owner lookup (ota_store_challenge_owner)" 'ota_store_challenge_owner'
        share "  redeem transaction (ota_store_challenge_redeem)" 'ota_store_challenge_redeem'
        share "    sqlite3_step (all statements)" 'sqlite3_step'
        share "  device attributes (ota_device_attributes_parse)" 'ota_device_attributes_parse'
        share "  plist parse (ota_plist_parse)" 'ota_plist_parse'
        share "  SCEP payload (ota_scep_payload_build)" 'ota_scep_payload_build'
        share "  profile to XML (ota_plist_to_xml)" 'ota_plist_to_xml'
        share "  plist copies (plist_copy)" 'plist_copy'
        share "  random (ota_challenge_new)" 'ota_challenge_new'
        share "  body (ota_read_body)" 'ota_read_body'
        share "  log lines (ap_log_rerror_)" 'ap_log_rerror_'
        share "access log (ap_run_log_transaction)" 'ap_run_log_transaction'
        share "request reading (ap_read_request)" 'ap_read_request'
        share "malloc (inclusive; free not counted)" 'malloc'
        share "request pool cleanup (ap_process_request_after_handler)" 'ap_process_request_after_handler'
        echo
        echo "## what enroll_handler calls (inclusive, calls)"
        callgrind_annotate --inclusive=yes --tree=calling "$out" 2>/dev/null \
            | awk '/\* +\?\?\?:enroll_handler$/ { go = 1; print; next }
                   go && /^ *$/ { exit } go' | head -25
        echo
        echo "## what ota_cms_verify_any calls (inclusive, calls)"
        callgrind_annotate --inclusive=yes --tree=calling "$out" 2>/dev/null \
            | awk '/\* +\?\?\?:ota_cms_verify_any$/ { go = 1; print; next }
                   go && /^ *$/ { exit } go' | head -12
        echo
        echo "## inclusive, top 70"
        awk '/PROGRAM TOTALS/ { go = 1; next } go && $2 ~ /^\(/' "$WORK/incl.txt" | head -70
        echo
        echo "## self, top 40"
        awk '/PROGRAM TOTALS/ { go = 1; next } go && $2 ~ /^\(/' "$WORK/self.txt" | head -40
    } >"$REPORT"
}

case $PROFILER in
perf)
    profile_perf "${PERF_EVENT:-cycles}" >"$REPORT"
    ;;
callgrind)
    profile_callgrind
    # where the time goes, kernel included, when perf can sample at all
    if perf record -e cpu-clock -o "$WORK/probe.data" true >/dev/null 2>&1; then
        { echo; echo "# time, not instructions:"; profile_perf cpu-clock; } >>"$REPORT"
    fi
    ;;
*) die "BENCH_PROFILER: perf or callgrind" ;;
esac
cat "$REPORT"
say "profile: $REPORT"
