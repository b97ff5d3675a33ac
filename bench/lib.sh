# Licensed under the Apache License, Version 2.0 (see LICENSE).
# Shared by bench/run.sh and bench/profile.sh (sourced): an apache2 with
# production-like settings for mod_ota_enroll, on a free loopback port.
# Needs TOP, WORK, PKI, LOGS, SECRET, PROFILE set; DBD_LINES overrides
# mpm_event's database connection settings.

MODULES=$(apxs -q LIBEXECDIR)
SERVER_DIR=

say() { echo "bench: $*"; }
die() { echo "bench: $*" >&2; exit 1; }
# called by server_stop with the server's name and error log
server_stopped() { :; }

# ---- apache2 ----
free_port() {
    local port
    while :; do
        port=$((10000 + RANDOM % ($(cut -f1 /proc/sys/net/ipv4/ip_local_port_range) - 10000)))
        if ! (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
}

# server_config NAME MPM DB-DIR SIGNING-CERT SIGNING-KEY
server_config() {
    local name=$1 mpm=$2 dbdir=$3 cert=$4 key=$5 dir user_lines= mpm_lines
    dir=$WORK/$name
    mkdir -p "$dir/htdocs" "$dbdir"
    chmod 755 "$dir" "$dir/htdocs"
    if [ "$(id -u)" -eq 0 ]; then
        chown nobody:nogroup "$dbdir"
        user_lines="User nobody
Group nogroup"
    fi
    case $mpm in
    prefork) mpm_lines="StartServers 4
MinSpareServers 4
MaxSpareServers 8
ServerLimit 8
MaxRequestWorkers 8
MaxConnectionsPerChild 0" ;;
    event) mpm_lines="StartServers 2
ServerLimit 2
ThreadLimit 8
ThreadsPerChild 8
MaxRequestWorkers 16
MinSpareThreads 8
MaxSpareThreads 16
MaxConnectionsPerChild 0
${DBD_LINES:-# one database connection per thread
DBDKeep 8
DBDMax 8}" ;;
    *) die "unknown MPM $mpm" ;;
    esac
    PORT=$(free_port)
    BASE=http://127.0.0.1:$PORT
    SERVER_DIR=$dir
    cat >"$dir/httpd.conf" <<CONF
ServerRoot "$dir"
ServerName 127.0.0.1
Listen 127.0.0.1:$PORT
PidFile "$dir/httpd.pid"
DefaultRuntimeDir "$dir"
Mutex file:$dir default
ErrorLog "$dir/error.log"
LogLevel warn
$user_lines
LoadModule mpm_${mpm}_module $MODULES/mod_mpm_${mpm}.so
LoadModule authz_core_module $MODULES/mod_authz_core.so
LoadModule mime_module $MODULES/mod_mime.so
LoadModule dbd_module $MODULES/mod_dbd.so
LoadModule ota_enroll_module $TOP/mod_ota_enroll.so
TypesConfig /etc/mime.types
DocumentRoot "$dir/htdocs"
CustomLog "$dir/access.log" "%h %l %u %t \"%r\" %>s %b udid=%{OTA_UDID}e phase=%{OTA_PHASE}e"
Timeout 60
KeepAlive On
MaxKeepAliveRequests 100
KeepAliveTimeout 5
$mpm_lines

DBDriver sqlite3
DBDParams "$dbdir/ota.db"

OTAEnrollSigningCertificate "$cert"
OTAEnrollSigningKey "$key"
OTAEnrollDeviceCA "$PKI/device-ca-chain.pem"
OTAEnrollOrganization "mod_ota_enroll bench"
OTAEnrollIdentifier org.example.bench.ota
OTAEnrollCACertificate "$PKI/signing-ca.pem"
OTAEnrollCAKey "$PKI/signing-ca.key"

<Location /scep>
    SetHandler ota-scep
</Location>
<Location /scep-static>
    SetHandler ota-scep
    OTAEnrollSCEPChallenge $SECRET
</Location>
<Location /ota/profile>
    SetHandler ota-profile-service
    OTAEnrollURL /ota/enroll
</Location>
<Location /ota/enroll>
    SetHandler ota-enroll
    OTAEnrollSCEPURL $BASE/scep
    OTAEnrollSCEPSubject "O=Example Inc./CN=%{UDID}"
    OTAEnrollProfile "$PROFILE"
</Location>
CONF
}

# server_start NAME MPM [DB-DIR [SIGNING-CERT SIGNING-KEY]]
server_start() {
    local name=$1 mpm=$2 dbdir=${3:-$WORK/$1/db}
    server_config "$name" "$mpm" "$dbdir" "${4:-$PKI/signing-chain.pem}" \
        "${5:-$PKI/signing.key}"
    if ! apache2 -d "$SERVER_DIR" -f "$SERVER_DIR/httpd.conf" -k start \
            >"$LOGS/$name-start.log" 2>&1; then
        cat "$LOGS/$name-start.log" "$SERVER_DIR/error.log" 2>/dev/null >&2
        die "apache2 ($name) did not start"
    fi
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "$BASE/scep?operation=GetCACaps" && return 0
        sleep 0.1
    done
    die "apache2 ($name) does not answer on $PORT"
}

server_stop() {
    local pid
    [ -n "$SERVER_DIR" ] && [ -f "$SERVER_DIR/httpd.pid" ] || return 0
    pid=$(cat "$SERVER_DIR/httpd.pid")
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 200); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    # children stuck for good (they would keep sqlite's lock): apache2
    # -k start made the parent a process group leader
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL -- "-$pid" 2>/dev/null
        sleep 0.5
    fi
    # what the server logged at warn and above, kept with the logs
    cp "$SERVER_DIR/error.log" "$LOGS/$(basename "$SERVER_DIR")-error.log" 2>/dev/null
    server_stopped "$(basename "$SERVER_DIR")" "$SERVER_DIR/error.log"
    rm -f "$SERVER_DIR/httpd.pid"
    SERVER_DIR=
}

