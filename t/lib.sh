# Licensed under the Apache License, Version 2.0 (see LICENSE).
# The one apache2 launcher, shared by the integration tests (t/*.t), the
# benchmark (bench/), the demo (demo/run.sh) and the memory soak
# (fuzz/soak.sh): TAP output, the test PKI, a real apache2 started from a
# generated configuration on a free loopback port, and the standard
# locations of an enrollment site (site_locations). Sourcing it only
# defines things; a test starts with t_setup:
#
#   . "$(dirname "$0")/lib.sh"
#   t_setup
#   apache_start NAME "$(site_locations auth=none)"
#   ...
#   apache_stop
#   log_clean
#   done_testing

T_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
T_BUILD=$T_TOP/build
T_MODULES=$(apxs -q LIBEXECDIR)
OTA_DEVICE=${OTA_DEVICE:-$T_BUILD/ota-device}
PKI=$T_BUILD/pki
T_WORK=
T_RUN=0
T_FAIL=0
T_PIDS=()       # background processes killed at exit
T_CLEANUP=()    # functions run at exit, the last registered first

# ---- set-up and clean-up ----
# t_workdir [PREFIX]: a fresh work directory in T_WORK, readable by the
# server's user.
t_workdir() {
    T_WORK=$(mktemp -d "${TMPDIR:-/tmp}/${1:-ota-test}.XXXXXX") || return 1
    chmod 755 "$T_WORK"
}

# pki_build: the test PKI in $PKI (t/pki.sh: made once per build tree).
pki_build() {
    bash "$T_TOP/t/pki.sh" "$PKI"
}

# t_setup [PREFIX]: a test's work directory (PREFIX.XXXXXX, ota-test) and
# the test PKI, and t_cleanup at exit (a signal exits, so that it runs
# then too).
t_setup() {
    t_workdir "${1:-ota-test}" || { echo "Bail out! work directory"; exit 1; }
    pki_build || { echo "Bail out! test PKI"; exit 1; }
    trap t_cleanup EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# t_cleanup: the functions in T_CLEANUP, the server, the background
# processes; the work directory goes unless a test failed or KEEP is set.
t_cleanup() {
    local i pid
    for ((i = ${#T_CLEANUP[@]} - 1; i >= 0; i--)); do
        "${T_CLEANUP[i]}" 2>/dev/null
    done
    apache_stop 2>/dev/null
    for pid in "${T_PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    [ -n "$T_WORK" ] || return 0
    if [ "$T_FAIL" -eq 0 ] && [ -z "${KEEP:-}" ]; then
        rm -rf "$T_WORK"
        return 0
    fi
    echo "# work directory kept: $T_WORK"
    # on stderr, which prove shows without -v (CI's only view)
    [ "$T_FAIL" -eq 0 ] || t_explain "$T_LOG" "$T_RUN tests, $T_FAIL failed"
}

# An error log's line at warn level or above.
T_LOG_PROBLEM='\[[a-z_]*:(warn|error|crit|alert|emerg)\]'

# t_explain FILE WHAT: to stderr, what a failure leaves for whoever sees
# only the summary: WHAT and the last warnings and errors of FILE (a
# server's error log) or, for another file, its last lines.
t_explain() {
    local lines
    echo "# ${0##*/}: $2" >&2
    [ -n "$1" ] && [ -f "$1" ] || return 0
    case $1 in
    *error.log) lines=$(grep -E "$T_LOG_PROBLEM" "$1" | tail -8) ;;
    *) lines=$(tail -8 "$1") ;;
    esac
    [ -z "$lines" ] || printf '%s\n' "$lines" | sed "s|^|#   ${1##*/}: |" >&2
}

# ---- TAP ----
ok() {   # ok CONDITION-EXIT-STATUS NAME
    T_RUN=$((T_RUN + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $T_RUN - $2"
    else
        T_FAIL=$((T_FAIL + 1))
        echo "not ok $T_RUN - $2"
    fi
}
check() {   # check NAME COMMAND...: runs the command, ok if it succeeds
    local name=$1
    shift
    "$@" >/dev/null 2>&1
    ok $? "$name"
}
is() {   # is GOT WANT NAME
    [ "$1" = "$2" ]
    ok $? "$3"
    [ "$1" = "$2" ] || echo "#   got '$1', want '$2'"
}
like() {   # like TEXT REGEX NAME
    printf '%s' "$1" | grep -Eq -- "$2"
    ok $? "$3"
    printf '%s' "$1" | grep -Eq -- "$2" || echo "#   '$2' not in: $(printf '%s' "$1" | head -c 400)"
}
has() {   # has TEXT STRING NAME: fixed-string match
    printf '%s' "$1" | grep -Fq -- "$2"
    ok $? "$3"
    printf '%s' "$1" | grep -Fq -- "$2" || echo "#   '$2' not found"
}
unlike() {   # unlike TEXT REGEX NAME
    ! printf '%s' "$1" | grep -Eq -- "$2"
    ok $? "$3"
}
skip() {   # skip REASON [NAME]: a skipped test
    T_RUN=$((T_RUN + 1))
    echo "ok $T_RUN # skip $1${2:+: $2}"
}
done_testing() {
    echo "1..$T_RUN"
    [ "$T_FAIL" -eq 0 ]
}

# ---- apache2 ----
free_port() {
    local port
    while :; do
        # below the ephemeral range: a client's source port there
        # would make apache2's bind fail
        port=$((10000 + RANDOM % ($(cut -f1 /proc/sys/net/ipv4/ip_local_port_range) - 10000)))
        if ! (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
}

# wait_http URL: waits until something answers HTTP(S) at URL (10 s).
wait_http() {   # wait_http URL: until the server answers (a TLS server
    local rc       # that wants a client certificate refuses curl: also up)
    for _ in $(seq 1 100); do
        curl -sk -o /dev/null "$1"
        rc=$?
        case $rc in 0|35|56) return 0 ;; esac
        sleep 0.1
    done
    return 1
}

T_PORT=
T_BASE=
T_CONF=
T_LOG=
T_DB=

# apache_config NAME EXTRA-CONFIG: writes $T_WORK/NAME/httpd.conf and sets
# T_PORT, T_BASE (the server's URL), T_CONF, T_LOG and T_DB. The module,
# mod_dbd with sqlite3, Basic auth users alice and bob (password
# "secret"), the test PKI and ${SERVER_URL} (Apache's variable for
# T_BASE) are ready to use in EXTRA. The environment picks:
#   T_MPM            the MPM (mpm_event)
#   T_LOAD           more modules by name ("proxy proxy_http")
#   T_NO_DBD=1       no mod_dbd
#   T_SSL=1          mod_ssl: https with the test PKI's server identity
#   T_DB_DIR         the sqlite3 database's directory (NAME/db)
#   T_SIGNING_CERT   T_SIGNING_KEY: the profile signer (the test PKI's)
#   T_LOGLEVEL       (info)
#   T_PORT_FIXED     the port (a free one)
apache_config() {
    local dir=$T_WORK/$1 extra=$2 db scheme=http dbd=dbd
    db=${T_DB_DIR:-$dir/db}
    mkdir -p "$dir/htdocs" "$db"
    chmod 755 "$dir" "$dir/htdocs"
    [ -f "$T_WORK/users" ] || {
        htpasswd -cb "$T_WORK/users" alice secret >/dev/null 2>&1
        htpasswd -b "$T_WORK/users" bob secret >/dev/null 2>&1
        chmod 644 "$T_WORK/users"
    }
    [ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$db"
    [ -n "${T_NO_DBD:-}" ] && dbd=
    [ -n "${T_SSL:-}" ] && scheme=https
    T_PORT=${T_PORT_FIXED:-$(free_port)}
    T_BASE=$scheme://127.0.0.1:$T_PORT
    T_CONF=$dir/httpd.conf
    T_LOG=$dir/error.log
    T_DB=$db/ota.db
    # shellcheck disable=SC2086 # T_LOAD: module names
    cat >"$T_CONF" <<CONF
$(conf_head "$dir" "$T_PORT" 127.0.0.1)
Define SERVER_URL $T_BASE
$(load_modules "${T_MPM:-mpm_event}" authn_core authn_file authz_core authz_user auth_basic \
    alias rewrite mime $dbd ${T_LOAD:-} ${T_SSL:+socache_shmcb ssl})
LoadModule ota_enroll_module $T_TOP/mod_ota_enroll.so
TypesConfig /etc/mime.types
DocumentRoot "$dir/htdocs"
# as in Debian's apache2.conf: no .htaccess looked for on any request
<Directory />
    AllowOverride None
</Directory>
${T_SSL:+SSLEngine on
SSLCertificateFile \"$PKI/server-chain.pem\"
SSLCertificateKeyFile \"$PKI/server.key\"}
${T_NO_DBD:+#}DBDriver sqlite3
${T_NO_DBD:+#}DBDParams "$db/ota.db"
CustomLog "$dir/access.log" "%h %u \"%r\" %>s %b udid=%{OTA_UDID}e phase=%{OTA_PHASE}e %t"

OTAEnrollSigningCertificate "${T_SIGNING_CERT:-$PKI/signing-chain.pem}"
OTAEnrollSigningKey "${T_SIGNING_KEY:-$PKI/signing.key}"
OTAEnrollDeviceCA "$PKI/device-ca-chain.pem"
OTAEnrollOrganization "mod_ota_enroll tests"
OTAEnrollIdentifier org.example.test.ota

$extra
CONF
}

# conf_head DIR PORT SERVER-NAME [USER:GROUP]: the first lines of a
# server's configuration: ServerRoot DIR, which holds its pid file,
# mutexes and error.log; Listen 127.0.0.1:PORT; LogLevel T_LOGLEVEL
# (info); as root, the user and group it runs as (nobody:nogroup).
conf_head() {
    local dir=$1 owner=${4:-nobody:nogroup}
    cat <<CONF
ServerRoot "$dir"
ServerName $3
Listen 127.0.0.1:$2
PidFile "$dir/httpd.pid"
DefaultRuntimeDir "$dir"
Mutex file:$dir default
ErrorLog "$dir/error.log"
LogLevel ${T_LOGLEVEL:-info}
CONF
    [ "$(id -u)" -ne 0 ] || printf 'User %s\nGroup %s\n' "${owner%%:*}" "${owner#*:}"
}

# load_modules NAME...: a LoadModule line for each of apache2's modules
# (mpm_event, ssl, ...).
load_modules() {
    local m
    for m in "$@"; do
        echo "LoadModule ${m}_module $T_MODULES/mod_$m.so"
    done
}

# apache_start NAME EXTRA-CONFIG: config, start, wait until it answers.
apache_start() {
    apache_config "$1" "$2"
    # T_CPUS: the CPUs it may run on (taskset -c), for benchmarks
    if ! ${T_CPUS:+taskset -c "$T_CPUS"} apache2 -d "$(dirname "$T_CONF")" -f "$T_CONF" -k start \
            >"$T_WORK/start.out" 2>&1; then
        echo "# apache2 failed to start:"; sed 's/^/#   /' "$T_WORK/start.out" "$T_LOG" 2>/dev/null
        return 1
    fi
    wait_http "$T_BASE/" && return 0
    echo "# apache2 did not answer on $T_PORT"
    return 1
}

# apache_stop: stops the server of T_CONF, its children killed if they
# hang (20 s).
apache_stop() {
    local pidfile pid
    [ -n "$T_CONF" ] || return 0
    pidfile=$(dirname "$T_CONF")/httpd.pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
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
    rm -f "$pidfile"
}

t_url() {
    echo "$T_BASE$1"
}

# ---- the site ----
# auth_basic [REQUIRE [REALM]]: Basic authentication against the users
# file (alice and bob), in a <Location>: Require valid-user unless
# REQUIRE says otherwise; REQUIRE "look": any user may look (GET, HEAD),
# alice alone may post.
auth_basic() {
    cat <<CONF
AuthType Basic
AuthName "${2:-Device enrollment}"
AuthUserFile "$T_WORK/users"
CONF
    if [ "${1:-}" = look ]; then
        cat <<CONF
<Limit GET HEAD>
    Require valid-user
</Limit>
<Limit POST>
    Require user alice
</Limit>
CONF
    else
        echo "Require ${1:-valid-user}"
    fi
}

# location PATH HANDLER [DIRECTIVES]: a <Location> with its handler and
# DIRECTIVES (one a line, blank lines dropped, indented unless they are).
location() {
    echo "<Location $1>"
    echo "    SetHandler $2"
    printf '%s\n' "${3:-}" | sed '/^[[:space:]]*$/d; s/^\([^[:space:]]\)/    \1/'
    echo "</Location>"
}

# site_locations [OPTION=VALUE...]: the standard locations of an
# enrollment site, for apache_start's EXTRA-CONFIG:
#   PREFIX/profile  ota-profile-service behind Basic auth, OTAEnrollURL
#                   PREFIX/enroll
#   PREFIX/enroll   ota-enroll, OTAEnrollSCEPURL the built-in CA below,
#                   OTAEnrollSCEPSubject "O=Example Inc./CN=%{UDID}"
#   PREFIX/scep     ota-scep, the built-in CA (the test PKI's signing CA,
#                   set server-wide)
#   PREFIX/status   ota-status behind Basic auth, alice only (status=on),
#                   or alice acts and anyone looks (status=look)
#   PREFIX/crl      ota-crl, the built-in CA's CRL (crl=on)
#   PREFIX/ocsp     ota-ocsp, its OCSP responder (ocsp=on)
# Options:
#   prefix=/ota               the locations' common prefix
#   profile=, enroll=, scep=, status=, crl=, ocsp=
#                             on or off (on, on, on, off, off, off)
#   auth=basic|none           the profile service behind Basic auth, or
#                             open to anyone (OTAEnrollAnonymous on)
#   url=URL                   OTAEnrollURL (PREFIX/enroll)
#   scep_url=URL              OTAEnrollSCEPURL (this server's PREFIX/scep;
#                             give it when scep=off)
#   subject=TEMPLATE          OTAEnrollSCEPSubject (empty: the default)
#   challenge=MODE            OTAEnrollSCEPChallenge (empty: the default)
#   final=FILE                OTAEnrollProfile (empty: none)
#   profile_extra=, enroll_extra=, scep_extra=, status_extra=, crl_extra=
#                             more directives in that location
site_locations() {
    local prefix=/ota profile=on enroll=on scep=on status=off auth=basic
    local crl=off ocsp=off
    local url= scep_url= subject='O=Example Inc./CN=%{UDID}' challenge= final=
    local profile_extra= enroll_extra= scep_extra= status_extra= crl_extra= opt
    local here='${SERVER_URL}'
    for opt in "$@"; do
        case $opt in
        prefix=*|profile=*|enroll=*|scep=*|status=*|crl=*|ocsp=*|auth=*|url=*|\
        scep_url=*|subject=*|challenge=*|final=*|profile_extra=*|enroll_extra=*|\
        scep_extra=*|status_extra=*|crl_extra=*)
            printf -v "${opt%%=*}" '%s' "${opt#*=}" ;;
        *)
            echo "site_locations: unknown option '$opt'" >&2
            return 1 ;;
        esac
    done
    [ "$profile" = on ] && location "$prefix/profile" ota-profile-service \
        "OTAEnrollURL ${url:-$prefix/enroll}
$([ "$auth" = basic ] && auth_basic || echo "OTAEnrollAnonymous on")
$profile_extra"
    [ "$enroll" = on ] && location "$prefix/enroll" ota-enroll \
        "OTAEnrollSCEPURL ${scep_url:-$here$prefix/scep}
${subject:+OTAEnrollSCEPSubject \"$subject\"}
${challenge:+OTAEnrollSCEPChallenge $challenge}
${final:+OTAEnrollProfile \"$final\"}
$enroll_extra"
    if [ "$scep" = on ]; then
        echo "OTAEnrollCACertificate \"$PKI/signing-ca.pem\""
        echo "OTAEnrollCAKey \"$PKI/signing-ca.key\""
        location "$prefix/scep" ota-scep "$scep_extra"
    fi
    case $status in
    on|look)
        [ "$status" = on ] && status='user alice'
        location "$prefix/status" ota-status \
            "$(auth_basic "$status" 'Enrollment admin')
$status_extra" ;;
    esac
    [ "$crl" = on ] && location "$prefix/crl" ota-crl "$crl_extra"
    [ "$ocsp" = on ] && location "$prefix/ocsp" ota-ocsp
    return 0
}

# ---- the error log and the database ----
# log_clean [ALLOWED-ID...]: no [warn]/[error]/[crit]/[alert]/[emerg] line
# in the error log except those carrying one of the allowed ids.
log_clean() {
    local bad
    bad=$(grep -E "$T_LOG_PROBLEM" "$T_LOG" 2>/dev/null)
    for id in "$@"; do
        bad=$(printf '%s\n' "$bad" | grep -v -- "$id")
    done
    bad=$(printf '%s\n' "$bad" | sed '/^$/d')
    [ -z "$bad" ]
    ok $? "error log has no unexpected warnings or errors${1:+ (allowed: $*)}"
    [ -z "$bad" ] || printf '%s\n' "$bad" | head -5 | sed 's/^/#   /'
}

# log_count ID: how many error log lines carry ID.
log_count() {
    grep -c -- "$1" "$T_LOG" 2>/dev/null || true
}

db_count() {   # db_count SQL: one number from the test database
    sqlite3 "$T_DB" "$1" 2>/dev/null || echo "db-error"
}

# ---- peers ----
# ndes_like PATH CA-PEM: Apache config for a SCEP location that answers
# GetCACert from a file and never answers GetCACaps, as NDES on Windows
# Server 2008 behaved in the iOS 4 story.
ndes_like() {
    local der=$T_WORK/ndes-ca.der
    openssl x509 -in "$2" -outform DER -out "$der"
    chmod 644 "$der"
    cat <<CONF
Alias $1 "$der"
<Location $1>
    ForceType application/x-x509-ca-cert
    RewriteEngine on
    RewriteCond %{QUERY_STRING} !operation=GetCACert
    RewriteRule ^ - [R=404]
</Location>
CONF
}

# scepserver_start [CHALLENGE]: micromdm's scepserver as an external CA on
# a free port (SCEP_URL, its CA in SCEP_CA, its pid in SCEP_PID),
# enrollment challenge CHALLENGE ("scep-secret").
scepserver_start() {
    local dir=$T_WORK/scepserver port
    mkdir -p "$dir"
    (cd "$dir" && scepserver ca -init -depot depot -keySize 2048 >/dev/null 2>&1)
    port=$(free_port)
    scepserver -depot "$dir/depot" -port "$port" -challenge "${1:-scep-secret}" \
        >"$dir/log" 2>&1 &
    SCEP_PID=$!
    T_PIDS+=("$SCEP_PID")
    SCEP_URL=http://127.0.0.1:$port/scep
    SCEP_CA=$dir/depot/ca.pem
    wait_http "$SCEP_URL?operation=GetCACaps" && return 0
    echo "# scepserver did not start"
    return 1
}

# ---- PostgreSQL (t/pg.sh) and two servers on one database ----
# pg_optional: t/pg.sh's functions, and PG_HERE=1 when PostgreSQL is
# installed (a test's PostgreSQL part runs only then).
# shellcheck disable=SC2034 # the tests read PG_HERE
pg_optional() {
    PG_HERE=
    [ -f "$T_TOP/t/pg.sh" ] || return 0
    # shellcheck source=t/pg.sh
    . "$T_TOP/t/pg.sh"
    pg_available && PG_HERE=1
    return 0
}

# pg_setup [PREFIX]: t_setup for a test that needs PostgreSQL: t/pg.sh's
# functions, the test skipped when PostgreSQL is missing (pg_require), and
# a throwaway cluster (pg_init; one assertion).
pg_setup() {
    # shellcheck source=t/pg.sh
    . "$T_TOP/t/pg.sh"
    pg_require
    t_setup "$@"
    pg_init
    ok $? "a throwaway PostgreSQL cluster runs on 127.0.0.1:$PG_PORT"
}

# pg_dbd: mod_dbd's lines for the cluster's database.
pg_dbd() {
    printf 'DBDriver pgsql\nDBDParams "%s"\n' "$PG_PARAMS"
}

# ab_ports: two free ports for servers A and B (A_PORT, B_PORT), neither
# the cluster's; their URLs in A and B.
# shellcheck disable=SC2034 # the tests read A and B
ab_ports() {
    A_PORT=$(free_port)
    B_PORT=$(free_port)
    while [ "$B_PORT" = "$A_PORT" ] || [ "$B_PORT" = "${PG_PORT:-}" ]; do
        B_PORT=$(free_port)
    done
    A=http://127.0.0.1:$A_PORT
    B=http://127.0.0.1:$B_PORT
}

# ab_start CONFIG: servers A and B started on ab_ports' ports, both with
# CONFIG (an assertion each); A_CONF, A_LOG, B_CONF, B_LOG; ab_stop at exit.
# shellcheck disable=SC2034 # the tests read A_LOG and B_LOG
ab_start() {
    ab_ports
    T_PORT_FIXED=$A_PORT apache_start a "$1"
    ok $? "server A starts"
    A_CONF=$T_CONF A_LOG=$T_LOG
    T_PORT_FIXED=$B_PORT apache_start b "$1"
    ok $? "server B starts"
    B_CONF=$T_CONF B_LOG=$T_LOG
    T_CLEANUP+=(ab_stop)
}
ab_stop() {
    T_CONF=$A_CONF apache_stop
    T_CONF=$B_CONF apache_stop
}

# ---- the emulated device ----
# device_enroll NAME PROFILE-URL USER IDENTITY [ENROLL-ARGS...]: ota-device
# with the test PKI's IDENTITY (device, device2, ...) enrolls at
# PROFILE-URL as USER (password "secret"), trusting the signing root; its
# files in $T_WORK/NAME, its output in $T_WORK/NAME.out.
device_enroll() {
    local name=$1 url=$2 user=$3 id=$4
    shift 4
    "$OTA_DEVICE" enroll --url "$url" --user "$user:secret" --trust "$PKI/signing-root.pem" \
        --identity "$PKI/$id.pem" --key "$PKI/$id.key" --chain "$PKI/device-ca-chain.pem" \
        --timeout 5 --save-dir "$T_WORK/$name" "$@" >"$T_WORK/$name.out" 2>&1
}

# enroll_pair PROFILE-URL [HOW]: alice's device (identity device) and
# bob's (device2) enroll through every phase, an assertion each ("alice's
# device enrolls HOW"); their files in $T_WORK/alice and $T_WORK/bob.
enroll_pair() {
    local who
    for who in alice:device bob:device2; do
        device_enroll "${who%%:*}" "$1" "${who%%:*}" "${who#*:}"
        ok $? "${who%%:*}'s device enrolls${2:+ $2}"
    done
}

# cert_serial NAME: the serial of the certificate in $T_WORK/NAME.
cert_serial() {
    openssl x509 -in "$T_WORK/$1/device-cert.pem" -noout -serial | sed 's/serial=//'
}

# wait_pending UDID [PID]: the transaction of UDID's request that the
# built-in CA holds (OTAEnrollSCEPApproval manual), once it is held (60 s;
# less if PID, the device enrolling, ends first).
wait_pending() {
    local tid
    for _ in $(seq 1 600); do
        tid=$(db_count "select transaction_id from ota_pending where udid = '$1' and decided is null")
        if [ -n "$tid" ] && [ "$tid" != db-error ]; then
            echo "$tid"
            return 0
        fi
        if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
            return 1
        fi
        sleep 0.1
    done
    return 1
}

# signed_plist WHAT DER PLIST: openssl cms -verify accepts DER (an answer
# of the server) against the signing root, its content into PLIST, and
# plistutil parses that: two assertions about WHAT.
signed_plist() {
    check "openssl cms -verify accepts $1 against the signing root" \
        openssl cms -verify -inform DER -in "$2" -CAfile "$PKI/signing-root.pem" \
        -purpose any -out "$3"
    check "plistutil parses $1" plistutil -i "$3" -o "${3%.plist}.bin"
}

# ---- crafted device requests ----
challenge_of() {   # challenge_of URL [CURL-ARGS]: a fresh phase-1 challenge
    local f=$T_WORK/challenge.der url=$1
    shift
    curl -s -o "$f" "$@" "$url"
    openssl cms -verify -inform DER -in "$f" -noverify 2>/dev/null | tr -d '\n\t' \
        | sed -n 's/.*<key>Challenge<\/key><string>\([^<]*\)<.*/\1/p'
}
device_attrs() {   # device_attrs UDID CHALLENGE [EXTRA-XML]: attribute plist
    printf '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">\n<dict>\n'
    [ -n "$1" ] && printf '\t<key>UDID</key>\n\t<string>%s</string>\n' "$1"
    [ -n "$2" ] && printf '\t<key>CHALLENGE</key>\n\t<string>%s</string>\n' "$2"
    printf '\t<key>PRODUCT</key>\n\t<string>iPhone3,1</string>\n%s</dict>\n</plist>\n' "${3:-}"
}
device_sign() {   # device_sign NAME IN OUT [SIGN-OPTIONS]: as PKI identity NAME
    local name=$1 in=$2 out=$3
    shift 3
    "$OTA_DEVICE" sign --identity "$PKI/$name.pem" --key "$PKI/$name.key" \
        --chain "$PKI/device-ca-chain.pem" "$@" "$in" "$out" >/dev/null 2>&1
}
# signed_attrs NAME UDID PROFILE-URL [CURL-ARGS]: device UDID's attributes
# with a fresh challenge (kept in CHALLENGE) in $T_WORK/bodies/NAME.xml,
# signed as the PKI's device into $T_WORK/bodies/NAME.der.
signed_attrs() {
    local w=$T_WORK/bodies
    mkdir -p "$w"
    CHALLENGE=$(challenge_of "$3" "${@:4}")
    device_attrs "$2" "$CHALLENGE" >"$w/$1.xml"
    device_sign device "$w/$1.xml" "$w/$1.der"
}
post_body() {   # post_body PATH FILE [CURL-ARGS]: the HTTP status
    local path=$1 f=$2
    shift 2
    curl -s -o "$T_WORK/post.out" -w '%{http_code}' \
        -H 'Content-Type: application/pkcs7-signature' --data-binary "@$f" "$@" \
        "$(t_url "$path")"
}
db_state() {   # challenges/used/devices/SCEP challenges/used/certificates
    db_count "select (select count(*) from ota_challenge) || '/' ||
        (select count(*) from ota_challenge where used is not null) || '/' ||
        (select count(*) from ota_device) || '/' ||
        (select count(*) from ota_scep_challenge) || '/' ||
        (select count(*) from ota_scep_challenge where used is not null) || '/' ||
        (select count(*) from ota_certificate) || '/' ||
        (select count(*) from ota_device where enrolled_at is not null)"
}
# refused NAME PATH FILE STATUS ID [CURL-ARGS]: posting FILE to PATH gets
# STATUS, exactly one log line with ID, and stores and consumes nothing.
refused() {
    local name=$1 path=$2 f=$3 want=$4 id=$5 before got n0
    shift 5
    before=$(db_state)
    n0=$(log_count "$id")
    got=$(post_body "$path" "$f" "$@")
    is "$got" "$want" "$name: HTTP $want"
    is "$(( $(log_count "$id") - n0 ))" 1 "$name: one $id line"
    is "$(db_state)" "$before" "$name: nothing stored or consumed"
}
