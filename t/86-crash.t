#!/bin/bash
# kill -9 of apache2 children in the middle of phase-2 and SCEP load, with
# mpm_prefork and mpm_event: the parent starts new children, the sqlite3
# database passes PRAGMA integrity_check, every consumed challenge has its
# device (and the device its SCEP challenge), every answer the client got
# is in the registry, and every certificate row is whole.
. "$(dirname "$0")/lib.sh"

SECRET=crash-secret
KILLS=${CRASH_KILLS:-6}
# enough requests to outlast the kills on a quiet machine (about 1 s each)
PHASE2_N=${CRASH_PHASE2:-1000}
SCEP_N=${CRASH_SCEP:-600}

t_setup ota-crash

# children CONF: the pids of the server's children
children() {
    pgrep -P "$(cat "$(dirname "$T_CONF")/httpd.pid")" 2>/dev/null
}

# under_kills NAME LOAD-ARGS...: runs the emulator's load, prepared first
# (--start-after), and kills a random child with SIGKILL every 50 ms while
# it runs, until KILLS were killed; LOAD_OUT holds its output, KILLED how
# many were killed before it ended.
under_kills() {
    local name=$1 go=$T_WORK/go.$1 out=$T_WORK/load.$1 pid victim
    shift
    "$OTA_DEVICE" load --start-after "$go" --timeout 10 "$@" >"$out" 2>&1 &
    pid=$!
    for _ in $(seq 1 600); do
        grep -q '^READY' "$out" && break
        sleep 0.1
    done
    touch "$go"
    KILLED=0
    while [ "$KILLED" -lt "$KILLS" ] && kill -0 "$pid" 2>/dev/null; do
        sleep 0.05
        victim=$(children | shuf -n 1)
        [ -n "$victim" ] && kill -KILL "$victim" 2>/dev/null && KILLED=$((KILLED + 1))
    done
    wait "$pid"
    LOAD_OUT=$(cat "$out")
}

# field NAME: a key=value of the LOAD line
field() {
    printf '%s\n' "$LOAD_OUT" | sed -n "s/^LOAD .* $1=\([0-9]*\).*/\1/p"
}

run_mpm() {
    local mpm=$1 devices used scep answered certs
    T_MPM=mpm_$mpm apache_start "crash-$mpm" "
KeepAlive On
StartServers 3
$([ "$mpm" = prefork ] && echo 'ServerLimit 12
MinSpareServers 3
MaxSpareServers 12
MaxRequestWorkers 12' || echo 'ServerLimit 4
ThreadsPerChild 4
ThreadLimit 4
MaxRequestWorkers 16
MinSpareThreads 4
MaxSpareThreads 16
DBDKeep 4
DBDMax 4')
$(site_locations auth=none)
<Location /scep-static>
    SetHandler ota-scep
    OTAEnrollSCEPChallenge $SECRET
</Location>"
    ok $? "$mpm: apache2 starts"

    under_kills "phase2-$mpm" --phase 2 --url "$(t_url /ota/profile)" \
        --requests "$PHASE2_N" --concurrency 8 \
        --identity "$PKI/device.pem" --key "$PKI/device.key" \
        --chain "$PKI/device-ca-chain.pem"
    answered=$(field ok)
    echo "# $mpm phase 2: $KILLED children killed; $(printf '%s\n' "$LOAD_OUT" | grep '^LOAD' | cut -d' ' -f2-7)"
    [ "$KILLED" -ge 4 ] && [ "${answered:-0}" -gt 0 ]
    ok $? "$mpm: phase 2 under $KILLED kill -9s, ${answered:-0} answered"
    is "$(db_count 'PRAGMA integrity_check')" ok \
        "$mpm: phase 2: integrity_check ok"
    used=$(db_count 'select count(*) from ota_challenge where used is not null')
    devices=$(db_count 'select count(*) from ota_device')
    scep=$(db_count 'select count(*) from ota_scep_challenge')
    is "$used" "$devices" "$mpm: every consumed challenge has its device ($used)"
    is "$scep" "$devices" "$mpm: every device has its SCEP challenge"
    [ "$devices" -ge "${answered:-0}" ] && [ "$devices" -le "$PHASE2_N" ]
    ok $? "$mpm: every answered device is recorded ($devices recorded, ${answered:-0} answered)"

    under_kills "scep-$mpm" --phase scep --url "$(t_url /scep-static)" \
        --requests "$SCEP_N" --concurrency 8 \
        --challenge "$SECRET" --subject "/O=crash-$mpm"
    answered=$(field ok)
    echo "# $mpm SCEP: $KILLED children killed; $(printf '%s\n' "$LOAD_OUT" | grep '^LOAD' | cut -d' ' -f2-7)"
    [ "$KILLED" -ge 4 ] && [ "${answered:-0}" -gt 0 ]
    ok $? "$mpm: SCEP under $KILLED kill -9s, ${answered:-0} issued"
    is "$(db_count 'PRAGMA integrity_check')" ok "$mpm: SCEP: integrity_check ok"
    certs=$(db_count "select count(*) from ota_certificate
        where subject like '%crash-$mpm%'")
    [ "$certs" -ge "${answered:-0}" ] && [ "$certs" -le "$SCEP_N" ]
    ok $? "$mpm: every certificate answered is recorded ($certs recorded, ${answered:-0} answered)"
    is "$(db_count "select count(*) from ota_certificate
        where subject like '%crash-$mpm%' and (cert not like '-----BEGIN%'
        or serial = '' or transaction_id = '' or not_after <= issued)")" 0 \
        "$mpm: every certificate row is whole"
    is "$(curl -s -o /dev/null -w '%{http_code}' "$(t_url /ota/profile)")" \
        200 "$mpm: the server still answers"
    apache_stop
    # A request whose child died after its commit is sent again by
    # libcurl on a new connection, and refused as the replay it is
    # (challenge used, transaction already answered); mpm_event notes the
    # children killed in a row, mpm_prefork may find every slot taken
    # while it replaces them (AH00161).
    log_clean OTA00039 OTA00064 AH10392 AH00161
}

run_mpm prefork
run_mpm event
done_testing
