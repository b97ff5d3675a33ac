# Licensed under the Apache License, Version 2.0 (see LICENSE).
# Shared by the integration tests: TAP output, the test PKI, and a real
# apache2 started from a generated configuration on a free loopback port.
# Source it from a t/*.t bash script.

T_TOP=$(cd "$(dirname "$0")/.." && pwd)
T_BUILD=$T_TOP/build
T_MODULES=$(apxs -q LIBEXECDIR)
OTA_DEVICE=${OTA_DEVICE:-$T_BUILD/ota-device}
PKI=$T_BUILD/pki
T_WORK=$(mktemp -d "${TMPDIR:-/tmp}/ota-test.XXXXXX")
chmod 755 "$T_WORK"
T_RUN=0
T_FAIL=0
T_PIDS=()

t_cleanup() {
    local pid
    apache_stop 2>/dev/null
    for pid in "${T_PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    if [ "$T_FAIL" -eq 0 ] && [ -z "${KEEP:-}" ]; then
        rm -rf "$T_WORK"
    else
        echo "# work directory kept: $T_WORK"
    fi
}
trap t_cleanup EXIT

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
done_testing() {
    echo "1..$T_RUN"
    [ "$T_FAIL" -eq 0 ]
}

# ---- PKI (made once per build tree) ----
bash "$T_TOP/t/pki.sh" "$PKI" || { echo "Bail out! test PKI"; exit 1; }

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

T_PORT=
T_CONF=
T_LOG=
T_DB=

# apache_config NAME EXTRA-CONFIG: writes $T_WORK/NAME/httpd.conf.
# The module, mod_dbd with sqlite3, Basic auth users alice and bob
# (password "secret"), and the test PKI are ready to use in EXTRA.
# T_PROXY=1 loads mod_proxy and mod_proxy_http, T_NO_DBD=1 leaves mod_dbd
# out, T_MPM picks the MPM (mpm_event).
apache_config() {
    local dir=$T_WORK/$1 extra=$2 user_lines=
    mkdir -p "$dir/htdocs" "$dir/db"
    chmod 755 "$dir" "$dir/htdocs"
    [ -f "$T_WORK/users" ] || {
        htpasswd -cb "$T_WORK/users" alice secret >/dev/null 2>&1
        htpasswd -b "$T_WORK/users" bob secret >/dev/null 2>&1
        chmod 644 "$T_WORK/users"
    }
    if [ "$(id -u)" -eq 0 ]; then
        chown nobody:nogroup "$dir/db"
        user_lines="User nobody
Group nogroup"
    fi
    T_PORT=${T_PORT_FIXED:-$(free_port)}
    T_CONF=$dir/httpd.conf
    T_LOG=$dir/error.log
    T_DB=$dir/db/ota.db
    cat >"$T_CONF" <<CONF
ServerRoot "$dir"
ServerName 127.0.0.1
Listen 127.0.0.1:$T_PORT
PidFile "$dir/httpd.pid"
DefaultRuntimeDir "$dir"
Mutex file:$dir default
ErrorLog "$dir/error.log"
LogLevel ${T_LOGLEVEL:-info}
$user_lines
LoadModule ${T_MPM:-mpm_event}_module $T_MODULES/mod_${T_MPM:-mpm_event}.so
LoadModule authn_core_module $T_MODULES/mod_authn_core.so
LoadModule authn_file_module $T_MODULES/mod_authn_file.so
LoadModule authz_core_module $T_MODULES/mod_authz_core.so
LoadModule authz_user_module $T_MODULES/mod_authz_user.so
LoadModule auth_basic_module $T_MODULES/mod_auth_basic.so
LoadModule alias_module $T_MODULES/mod_alias.so
LoadModule rewrite_module $T_MODULES/mod_rewrite.so
LoadModule mime_module $T_MODULES/mod_mime.so
${T_NO_DBD:+#}LoadModule dbd_module $T_MODULES/mod_dbd.so
${T_PROXY:+LoadModule proxy_module $T_MODULES/mod_proxy.so}
${T_PROXY:+LoadModule proxy_http_module $T_MODULES/mod_proxy_http.so}
LoadModule ota_enroll_module $T_TOP/mod_ota_enroll.so
TypesConfig /etc/mime.types
DocumentRoot "$dir/htdocs"
${T_NO_DBD:+#}DBDriver sqlite3
${T_NO_DBD:+#}DBDParams "$dir/db/ota.db"
CustomLog "$dir/access.log" "%h %u \"%r\" %>s %b udid=%{OTA_UDID}e phase=%{OTA_PHASE}e"

OTAEnrollSigningCertificate "$PKI/signing-chain.pem"
OTAEnrollSigningKey "$PKI/signing.key"
OTAEnrollDeviceCA "$PKI/device-ca-chain.pem"
OTAEnrollOrganization "mod_ota_enroll tests"
OTAEnrollIdentifier org.example.test.ota

$extra
CONF
}

# apache_start NAME EXTRA-CONFIG: config, start, wait until it answers.
apache_start() {
    apache_config "$1" "$2"
    if ! apache2 -d "$(dirname "$T_CONF")" -f "$T_CONF" -k start \
            >"$T_WORK/start.out" 2>&1; then
        echo "# apache2 failed to start:"; sed 's/^/#   /' "$T_WORK/start.out" "$T_LOG" 2>/dev/null
        return 1
    fi
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$T_PORT/" && return 0
        sleep 0.1
    done
    echo "# apache2 did not answer on $T_PORT"
    return 1
}

apache_stop() {
    local pidfile pid
    [ -n "$T_CONF" ] || return 0
    pidfile=$(dirname "$T_CONF")/httpd.pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    rm -f "$pidfile"
}

# log_clean [ALLOWED-ID...]: no [warn]/[error]/[crit]/[alert]/[emerg] line
# in the error log except those carrying one of the allowed ids.
log_clean() {
    local bad pattern='\[[a-z_]*:(warn|error|crit|alert|emerg)\]'
    bad=$(grep -E "$pattern" "$T_LOG" 2>/dev/null)
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

# scepserver_start: micromdm's scepserver as an external CA on a free port
# (SCEP_URL), enrollment challenge "scep-secret".
scepserver_start() {
    local dir=$T_WORK/scepserver port
    mkdir -p "$dir"
    (cd "$dir" && scepserver ca -init -depot depot -keySize 2048 >/dev/null 2>&1)
    port=$(free_port)
    scepserver -depot "$dir/depot" -port "$port" -challenge scep-secret \
        >"$dir/log" 2>&1 &
    T_PIDS+=($!)
    SCEP_URL=http://127.0.0.1:$port/scep
    SCEP_CA=$dir/depot/ca.pem
    for _ in $(seq 1 50); do
        curl -s -o /dev/null "$SCEP_URL?operation=GetCACaps" && return 0
        sleep 0.1
    done
    echo "# scepserver did not start"
    return 1
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

t_url() {
    echo "http://127.0.0.1:$T_PORT$1"
}
