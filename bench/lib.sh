# Licensed under the Apache License, Version 2.0 (see LICENSE).
# Shared by bench/run.sh and bench/profile.sh (sourced after t/lib.sh):
# the site in an apache2 with production-like settings, started by
# t/lib.sh's launcher in $T_WORK; results and logs in build/bench.

OUT=$T_BUILD/bench
LOGS=$OUT/logs
DEV=$OTA_DEVICE
PROFILE=$T_TOP/t/fixtures/profiles/payloads.plist   # the final profile
SECRET=bench-secret        # the static SCEP challenge (/scep-static)
DBD_LINES=                 # mpm_event's database connections, if set
SERVER_DIR=
BASE=

say() { echo "bench: $*"; }
die() { echo "bench: $*" >&2; exit 1; }
# called by server_stop with the server's name and error log
server_stopped() { :; }

# bench_config MPM [SITE-OPTION...]: the MPM's settings, KeepAlive, and
# the site: the standard locations without authentication (and
# site_locations' SITE-OPTIONs), a final profile, and the built-in CA with
# a static challenge at /scep-static for the SCEP load. Event MPM: two
# children of BENCH_THREADS threads (8) each.
bench_config() {
    local mpm=$1
    shift
    case $mpm in
    prefork) echo "StartServers 4
MinSpareServers 4
MaxSpareServers 8
ServerLimit 8
MaxRequestWorkers 8
MaxConnectionsPerChild 0" ;;
    event) local tpc=${BENCH_THREADS:-8}
        echo "StartServers 2
ServerLimit 2
ThreadLimit $tpc
ThreadsPerChild $tpc
MaxRequestWorkers $((2 * tpc))
MinSpareThreads 8
MaxSpareThreads $((2 * tpc))
MaxConnectionsPerChild 0
${DBD_LINES:-# one database connection per thread
DBDKeep $tpc
DBDMax $tpc}" ;;
    esac
    cat <<CONF
Timeout 60
KeepAlive On
MaxKeepAliveRequests 100
KeepAliveTimeout 5
$(site_locations auth=none final="$PROFILE" "$@")
<Location /scep-static>
    SetHandler ota-scep
    OTAEnrollSCEPChallenge $SECRET
</Location>
CONF
}

# server_start NAME MPM [DB-DIR [SIGNING-CERT SIGNING-KEY]]: the server in
# SERVER_DIR, at BASE
server_start() {
    local name=$1 mpm=$2
    case $mpm in
    event|prefork) ;;
    *) die "unknown MPM $mpm" ;;
    esac
    T_MPM=mpm_$mpm T_LOGLEVEL=warn T_DB_DIR=${3:-} T_SIGNING_CERT=${4:-} \
        T_SIGNING_KEY=${5:-} apache_start "$name" "$(bench_config "$mpm")" \
        >"$LOGS/$name-start.log" 2>&1 || {
        cat "$LOGS/$name-start.log" >&2
        die "apache2 ($name) did not start"
    }
    SERVER_DIR=$(dirname "$T_CONF")
    BASE=$T_BASE
}

server_stop() {
    local name
    [ -n "$SERVER_DIR" ] || return 0
    name=$(basename "$SERVER_DIR")
    apache_stop
    # what the server logged at warn and above, kept with the logs
    cp "$SERVER_DIR/error.log" "$LOGS/$name-error.log" 2>/dev/null
    server_stopped "$name" "$SERVER_DIR/error.log"
    SERVER_DIR=
}
