#!/bin/bash
# Licensed under the Apache License, Version 2.0 (see LICENSE).
# make bench-revocation (also the last part of make bench): the OCSP
# responder against `openssl ocsp -index` answering for the same CA on the
# same machine in the same run, both driven by wrk with the same request
# (POST, a SHA-1 CertID and a nonce, as mod_ssl sends it); then a CRL of
# 100,000 revoked certificates: how long building it takes, and that later
# fetches are served from the cache.
#
# Each pair runs BENCH_ROUNDS times, alternating, and the medians are
# reported. With 2 or more CPUs the responders run on the first half of
# them and wrk on the rest (BENCH_PIN=0: anywhere), so that the load
# generator does not take the responders' CPU and the tails are theirs.
#
# Knobs: BENCH_SECONDS (10: each wrk run), BENCH_C (8: connections),
# BENCH_ROUNDS (3), BENCH_PIN (1), BENCH_REVOKED (100000). Writes
# build/bench/revocation.txt.

set -u

. "$(dirname "$0")/../t/lib.sh"
. "$T_TOP/bench/lib.sh"
SECONDS_RUN=${BENCH_SECONDS:-10}
C=${BENCH_C:-8}
ROUNDS=${BENCH_ROUNDS:-3}
NCPU=$(nproc)
if [ "${BENCH_PIN:-1}" = 1 ] && [ "$NCPU" -ge 2 ]; then
    SERVER_CPUS=0-$((NCPU / 2 - 1))
    CLIENT_CPUS=$((NCPU / 2))-$((NCPU - 1))
    WRK_THREADS=$((NCPU - NCPU / 2))
    PLACEMENT="responders on CPUs $SERVER_CPUS, wrk on $CLIENT_CPUS"
else
    SERVER_CPUS= CLIENT_CPUS= WRK_THREADS=2
    PLACEMENT="responders and wrk on the same $NCPU CPUs"
fi
on_cpus() {   # on_cpus CPUS COMMAND...: COMMAND on CPUS (anywhere if empty)
    local cpus=$1
    shift
    if [ -n "$cpus" ]; then taskset -c "$cpus" "$@"; else "$@"; fi
}
REVOKED=${BENCH_REVOKED:-100000}
REPORT=$OUT/revocation.txt

t_workdir ota-bench-revocation || die "no work directory"
mkdir -p "$OUT"
OPENSSL_PID=
# openssl ocsp -multi's workers outlive their parent: stop them by name
openssl_stop() {
    pkill -f "openssl ocsp -index $T_WORK/" 2>/dev/null
    [ -n "$OPENSSL_PID" ] && wait "$OPENSSL_PID" 2>/dev/null
    OPENSSL_PID=
}
cleanup() {
    openssl_stop
    apache_stop
    [ -n "${KEEP:-}" ] && echo "work directory kept: $T_WORK" || rm -rf "$T_WORK"
}
trap cleanup EXIT
command -v wrk >/dev/null || die "wrk is needed (make test-deps)"
pki_build || die "test PKI"

# A delegated responder with an EC P-256 key (OCSPSigning, issued by the
# CA): both responders also answer with it, signatures being the cost.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=OCSP P-256" \
    -keyout "$T_WORK/ocsp-ec.key" -out "$T_WORK/ocsp-ec.csr" >/dev/null 2>&1
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\n' \
    >"$T_WORK/ocsp-ec.ext"
openssl x509 -req -in "$T_WORK/ocsp-ec.csr" -CA "$PKI/signing-ca.pem" -CAkey "$PKI/signing-ca.key" \
    -CAcreateserial -days 30 -sha256 -extfile "$T_WORK/ocsp-ec.ext" -out "$T_WORK/ocsp-ec.pem" \
    >/dev/null 2>&1 || die "cannot make the EC responder"

# ---- the server: the standard site, ota-ocsp and ota-crl, event MPM ----
# Each child has threads for all C connections and some to spare: the
# event MPM closes every idle keep-alive connection of a child whose
# workers are all busy, and a client that has just sent its next request
# on one of them sees it closed (wrk counts a read error). With 8 threads
# a child and 8 connections that happened a few times a run.
T_CPUS=$SERVER_CPUS T_LOAD= \
    apache_start revocation "$(BENCH_THREADS=$((2 * C)) bench_config event ocsp=on crl=on)
$(location /ec/ocsp ota-ocsp "OTAEnrollOCSPSigningCertificate \"$T_WORK/ocsp-ec.pem\"
OTAEnrollOCSPSigningKey \"$T_WORK/ocsp-ec.key\"")
LogFormat \"%r %>s %D\" timed
CustomLog \"$T_WORK/timed.log\" timed" || die "apache2 did not start"
"$DEV" enroll --url "$T_BASE/ota/profile" --identity "$PKI/device.pem" --key "$PKI/device.key" \
    --chain "$PKI/device-ca-chain.pem" --stop-after scep --save-dir "$T_WORK/dev" \
    >"$T_WORK/enroll.log" 2>&1 || die "the device did not enroll: $(tail -3 "$T_WORK/enroll.log")"
cert=$T_WORK/dev/device-cert.pem
serial=$(openssl x509 -in "$cert" -noout -serial | sed 's/serial=//')
openssl ocsp -issuer "$PKI/signing-ca.pem" -cert "$cert" -reqout "$T_WORK/req.der" >/dev/null 2>&1
openssl ocsp -issuer "$PKI/signing-ca.pem" -cert "$cert" -no_nonce -reqout "$T_WORK/req-nonceless.der" \
    >/dev/null 2>&1

# ---- openssl ocsp as the responder for the same CA ----
# its index: the certificate, valid (openssl ca's database format)
expiry=$(date -u -d "$(openssl x509 -in "$cert" -noout -enddate | cut -d= -f2)" +%y%m%d%H%M%SZ)
printf 'V\t%s\t\t%s\tunknown\t/CN=device\n' "$expiry" "$serial" >"$T_WORK/index.txt"
# openssl_start: the responder anew (idle keep-alive connections left by
# one wrk run would hold its processes). openssl_stop after each of its
# runs: once wrk has closed its connections, the workers of openssl ocsp
# -multi spin at 100% CPU, on the responders' CPU, until stopped.
openssl_start() {   # openssl_start [SIGNER-CERT SIGNER-KEY]
    openssl_stop
    OPENSSL_PORT=$(free_port)
    on_cpus "$SERVER_CPUS" openssl ocsp -index "$T_WORK/index.txt" -port "$OPENSSL_PORT" -CA "$PKI/signing-ca.pem" \
        -rsigner "${1:-$PKI/signing-ca.pem}" -rkey "${2:-$PKI/signing-ca.key}" -multi 2 -ignore_err \
        >>"$T_WORK/openssl-ocsp.log" 2>&1 &
    OPENSSL_PID=$!
    sleep 1
}
openssl_start

# wrk: the same POST to both, with a nonce (as mod_ssl and FreeRADIUS
# send it: every answer signed anew) and without (RFC 5019 clients)
for kind in "" -nonceless; do
    cat >"$T_WORK/post$kind.lua" <<LUA
local f = io.open("$T_WORK/req$kind.der", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/ocsp-request"
LUA
done
# run LABEL URL [KIND]: requests/s, p50 and p99 (ms), non-2xx and socket
# errors
run() {
    local out
    out=$(on_cpus "$CLIENT_CPUS" wrk -t"$WRK_THREADS" -c"$C" -d"${SECONDS_RUN}s" --latency \
              -s "$T_WORK/post${3:-}.lua" "$2" 2>&1)
    echo "$out" >>"$T_WORK/$1.wrk"
    RPS=$(echo "$out" | awk '/Requests\/sec/ { print $2 }')
    P50=$(echo "$out" | awk '$1 == "50%" { print $2 }')
    P99=$(echo "$out" | awk '$1 == "99%" { print $2 }')
    ERR=$(echo "$out" | awk '/Non-2xx/ { n += $NF } /Socket errors/ { gsub(",", ""); n += $4 + $6 + $8 + $10 }
                             END { print n + 0 }')
    echo "$RPS $(ms "$P50") $(ms "$P99") $ERR" >>"$T_WORK/$1.runs"
}
# median LABEL: the medians of its runs' requests/s, p50 and p99, and the
# sum of their errors, as "RPS P50 P99 ERRORS"
median() {
    local col out=
    for col in 1 2 3; do
        out="$out $(sort -g -k"$col,$col" "$T_WORK/$1.runs" | awk -v c="$col" '{ v[NR] = $c }
            END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
    done
    echo "$out $(awk '{ n += $4 } END { print n + 0 }' "$T_WORK/$1.runs")"
}
ms() {   # wrk's "1.23ms" / "450.00us" / "1.02s" in ms
    echo "$1" | awk '/us$/ { sub("us", ""); print $1 / 1000; next }
                     /ms$/ { sub("ms", ""); print $1 + 0; next }
                     /s$/  { sub("s", "");  print $1 * 1000 }'
}
# a check that both answer "good" with a verified signature
cat "$PKI/signing-ca.pem" "$PKI/signing-root.pem" >"$T_WORK/chain.pem"
for url in "$T_BASE/ota/ocsp" "http://127.0.0.1:$OPENSSL_PORT/"; do
    openssl ocsp -url "$url" -issuer "$PKI/signing-ca.pem" -cert "$cert" \
        -CAfile "$T_WORK/chain.pem" 2>&1 | grep -q ': good' \
        || die "the responder at $url does not answer good"
done
openssl_stop
# the pairs, alternating, BENCH_ROUNDS times; openssl anew before each of
# its runs and stopped after it
for _ in $(seq "$ROUNDS"); do
    run ours "$T_BASE/ota/ocsp"
    openssl_start
    run openssl "http://127.0.0.1:$OPENSSL_PORT/"
    openssl_stop
    run ours-nl "$T_BASE/ota/ocsp" -nonceless
    openssl_start
    run openssl-nl "http://127.0.0.1:$OPENSSL_PORT/" -nonceless
    openssl_stop
    run ours-ec "$T_BASE/ec/ocsp"
    openssl_start "$T_WORK/ocsp-ec.pem" "$T_WORK/ocsp-ec.key"
    run openssl-ec "http://127.0.0.1:$OPENSSL_PORT/"
    openssl_stop
done
read -r ours_rps ours_p50 ours_p99 ours_err <<<"$(median ours)"
read -r ossl_rps ossl_p50 ossl_p99 ossl_err <<<"$(median openssl)"
read -r nl_rps nl_p50 nl_p99 nl_err <<<"$(median ours-nl)"
read -r onl_rps onl_p50 onl_p99 onl_err <<<"$(median openssl-nl)"
read -r ec_rps ec_p50 ec_p99 ec_err <<<"$(median ours-ec)"
read -r oec_rps oec_p50 oec_p99 oec_err <<<"$(median openssl-ec)"
# the floor of an answer signed anew: RSA-2048 signatures per second, one
# core, in the same run
sign_s=$(openssl speed -seconds 3 rsa2048 2>/dev/null | awk '/^rsa 2048/ { print $6 }')

# ---- a CRL of REVOKED entries ----
now=$(date +%s)
sqlite3 "$T_DB" >/dev/null <<SQL
PRAGMA busy_timeout = 5000;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $REVOKED)
INSERT INTO ota_certificate (serial, transaction_id, udid, subject, issued, not_after, revoked,
                             revoked_reason, cert)
SELECT printf('%032X', 1000000 + i), 'bench-' || i, NULL, 'CN=bench', $now, $now + 86400,
       $now, i % 2, '-' FROM n;
UPDATE ota_crl SET next_update = 0;
SQL
: >"$T_WORK/timed.log"
curl -s -o "$T_WORK/crl1.der" "$T_BASE/ota/crl"
for _ in 1 2 3 4 5; do curl -s -o "$T_WORK/crl2.der" "$T_BASE/ota/crl"; done
build_ms=$(awk '$2 == "/ota/crl" { print $5 / 1000; exit }' "$T_WORK/timed.log")
cached_ms=$(awk '$2 == "/ota/crl" { n++; if (n > 1) { s += $5; c++ } } END { printf "%.1f", s / c / 1000 }' \
            "$T_WORK/timed.log")
entries=$(openssl crl -inform DER -in "$T_WORK/crl2.der" -noout -text | grep -c 'Serial Number')
crl_bytes=$(stat -c %s "$T_WORK/crl2.der")
same=$(cmp -s "$T_WORK/crl1.der" "$T_WORK/crl2.der" && echo yes || echo no)

server_cpus=$NCPU
[ -n "$SERVER_CPUS" ] && server_cpus=$((NCPU / 2))
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
{
    echo "## Revocation ($(date -u +%Y-%m-%d), $C connections, ${SECONDS_RUN}s each, medians of $ROUNDS alternating rounds)"
    echo
    echo "$PLACEMENT; errors summed over the rounds."
    echo
    echo "| responder | request | requests/s | p50 ms | p99 ms | errors |"
    echo "|---|---|---|---|---|---|"
    echo "| ota-ocsp (event MPM) | nonce | $ours_rps | $ours_p50 | $ours_p99 | $ours_err |"
    echo "| openssl ocsp -index -multi 2 | nonce | $ossl_rps | $ossl_p50 | $ossl_p99 | $ossl_err |"
    echo "| ota-ocsp (event MPM) | no nonce | $nl_rps | $nl_p50 | $nl_p99 | $nl_err |"
    echo "| openssl ocsp -index -multi 2 | no nonce | $onl_rps | $onl_p50 | $onl_p99 | $onl_err |"
    echo "| ota-ocsp, delegated P-256 responder | nonce | $ec_rps | $ec_p50 | $ec_p99 | $ec_err |"
    echo "| openssl ocsp, the same P-256 responder | nonce | $oec_rps | $oec_p50 | $oec_p99 | $oec_err |"
    echo
    echo "- with a nonce, ota-ocsp / openssl ocsp: $(ratio "$ours_rps" "$ossl_rps")x requests/s"
    echo "  (goal >= 5x); both sign every answer: the floor is $server_cpus CPU(s) x $sign_s"
    echo "  RSA-2048 signatures/s, and ota-ocsp reaches $(ratio "$ours_rps" "$(awk -v n="$server_cpus" -v s="$sign_s" 'BEGIN { print n * s }')")"
    echo "  of it, openssl ocsp $(ratio "$ossl_rps" "$(awk -v n="$server_cpus" -v s="$sign_s" 'BEGIN { print n * s }')")"
    echo "- with a nonce and the same delegated P-256 responder, ota-ocsp / openssl"
    echo "  ocsp: $(ratio "$ec_rps" "$oec_rps")x requests/s (goal >= 5x); p99 / p50 $(ratio "$ec_p99" "$ec_p50")x"
    echo "- without a nonce, ota-ocsp / openssl ocsp: $(ratio "$nl_rps" "$onl_rps")x requests/s"
    echo "  (answers reused while the status holds, the registry read every time;"
    echo "  openssl signs every answer)"
    echo "- ota-ocsp p99 / p50: $(ratio "$ours_p99" "$ours_p50")x with a nonce,"
    echo "  $(ratio "$nl_p99" "$nl_p50")x without (goal <= 5x)"
    echo "- CRL of $entries revoked certificates ($crl_bytes bytes): built in $build_ms ms"
    echo "  (goal < 2000 ms), then served from the process cache in $cached_ms ms"
    echo "  (the same CRL: $same)"
} | tee "$REPORT"
