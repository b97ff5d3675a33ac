#!/bin/bash
# Several servers, one PostgreSQL: two apache2 instances (A and B) share a
# throwaway PostgreSQL cluster (t/pg.sh). The schema is migrated once when
# both start together on an empty database; a device does phase 1 on A,
# phase 2 on B, SCEP on A and phase 3 on B; a challenge is redeemed once
# across both servers, even by 16 racing posts; challenges survive a
# graceful restart; a database restart or outage gives 503s with their
# log ids, stores nothing, and service resumes without restarting apache2.
. "$(dirname "$0")/lib.sh"
pg_setup

profile=$T_TOP/t/fixtures/profiles/configuration.mobileconfig
ab_ports
# Both servers are configured alike, as behind a load balancer: phase 1
# hands out B's enroll URL, the SCEP payload names A's built-in CA (on B
# the CA is not local: dynamic challenges are set explicitly, and `auto`
# learns A's capabilities over HTTP). A pools its database connections
# with the recommended settings; B opens one per request (DBDPersist Off).
server_conf() {   # server_conf DBD-SETTINGS
    cat <<CONF
$(pg_dbd)
$1
$(site_locations auth=none url="$B/ota/enroll" scep_url="$A/ota/scep" challenge=dynamic \
    final="$profile" enroll_extra="OTAEnrollSCEPCACertificate \"$PKI/signing-ca.pem\"
OTAEnrollGetCACaps auto")
CONF
}
T_PORT_FIXED=$A_PORT apache_config a "$(server_conf "DBDPersist On
DBDMin 0
DBDKeep 2
DBDMax 10
DBDExptime 60")"
A_CONF=$T_CONF A_LOG=$T_LOG
T_PORT_FIXED=$B_PORT apache_config b "$(server_conf "DBDPersist Off")"
B_CONF=$T_CONF B_LOG=$T_LOG
T_CLEANUP+=(ab_stop)

# Both start at the same time, on an empty database.
apache2 -d "$(dirname "$A_CONF")" -f "$A_CONF" -k start >"$T_WORK/a.start" 2>&1 &
pa=$!
apache2 -d "$(dirname "$B_CONF")" -f "$B_CONF" -k start >"$T_WORK/b.start" 2>&1 &
pb=$!
wait $pa && wait $pb && wait_http "$A/" && wait_http "$B/"
ok $? "servers A ($A_PORT) and B ($B_PORT) start together"

# ---- migrations: first use by 16 racing requests on both servers ----
mkdir -p "$T_WORK/first" "$T_WORK/race"
for i in $(seq 1 16); do
    [ $((i % 2)) -eq 0 ] && url=$A || url=$B
    curl -s -o /dev/null -w '%{http_code}\n' "$url/ota/profile" >"$T_WORK/first/$i" &
done
wait
is "$(cat "$T_WORK"/first/* | sort | uniq -c | sed 's/^ *//')" "16 200" \
   "16 concurrent first requests on an empty database: all 200"
want=$(sed -n 's/^#define OTA_STORE_SCHEMA_VERSION \([0-9]*\).*/\1/p' "$T_TOP/ota_store.c")
is "$(pg_sql "select id || ':' || version from ota_schema_version")" "1:$want" \
   "the schema version is the module's ($want), in one row"
# Every table, the added columns and the version row come from a single
# transaction: the migrations ran exactly once.
is "$(pg_sql "select count(distinct x) from (
        select xmin::text as x from ota_schema_version
        union all select xmin::text from pg_class
            where relname like 'ota\_%' and relkind = 'r'
        union all select a.xmin::text from pg_attribute a
            join pg_class c on c.oid = a.attrelid
            where c.relname like 'ota\_%' and c.relkind = 'r' and a.attnum > 0) s")" 1 \
   "all tables and columns were created by one transaction"
lost=$(grep -c 'ERROR: .*\(duplicate key\|already exists\)' "$PG_LOG" 2>/dev/null)
echo "# $lost migration attempt(s) lost the race and were retried"
is "$(pg_sql "select count(*) from ota_challenge")" 16 "16 challenges stored"

# Every statement the module prepares parses on PostgreSQL with its
# parameter types inferred, as they are sent (unlabelled, PQexecParams).
perl -e '
    local $/; my $src = <>;
    $src =~ /ota_store_statements\[\] = \{(.*?)\{ NULL, NULL \}/s or exit 1;
    my $list = $1;
    $list =~ s{/\*.*?\*/}{}gs;
    while ($list =~ /\{\s*"(\w+)",\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\}/g) {
        my ($label, $lits) = ($1, $2);
        my $sql = join "", map { s/\\(.)/$1/gr } ($lits =~ /"((?:[^"\\]|\\.)*)"/g);
        my $n = 0;
        # apr_dbd_prepare placeholders; %% is a plain %
        $sql =~ s/%(%|hh[du]|h[du]|ll[du]|l[duf]|pD[tidaszbcn]|[a-zA-Z])/
                  $1 eq "%" ? "%" : "\$" . ++$n/gex;
        print "PREPARE chk_$label AS $sql;\n";
    }' "$T_TOP/ota_store.c" >"$T_WORK/statements.sql"
nst=$(grep -c '^PREPARE' "$T_WORK/statements.sql")
[ "$nst" -gt 10 ]
ok $? "the statement list is read from ota_store.c ($nst statements)"
out=$(PGPASSWORD=$PG_PASSWORD "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 \
      -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -f "$T_WORK/statements.sql" 2>&1)
ok $? "every statement is valid PostgreSQL with inferred parameter types"
[ -z "$out" ] || printf '%s\n' "$out" | head -5 | sed 's/^/#   /'

# ---- helpers: crafted phase-2 bodies ----
challenge_from() {   # challenge_from URL [TRIES]: phase 1; sets CH and CH_URL
    local f=$T_WORK/p1.der plist try
    for try in $(seq 1 "${2:-1}"); do
        [ "$(curl -s -o "$f" -w '%{http_code}' "$1/ota/profile")" = 200 ] && break
    done
    plist=$(openssl cms -verify -inform DER -in "$f" -noverify 2>/dev/null | tr -d '\n\t')
    CH=$(printf '%s' "$plist" | sed -n 's/.*<key>Challenge<\/key><string>\([^<]*\)<.*/\1/p')
    CH_URL=$(printf '%s' "$plist" | sed -n 's/.*<key>URL<\/key><string>\([^<]*\)<.*/\1/p')
}
body() {   # body FILE UDID CHALLENGE: phase-2 attributes signed like a device
    {
        printf '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">\n<dict>\n'
        printf '\t<key>UDID</key>\n\t<string>%s</string>\n' "$2"
        printf '\t<key>CHALLENGE</key>\n\t<string>%s</string>\n' "$3"
        printf '\t<key>PRODUCT</key>\n\t<string>iPhone15,2</string>\n'
        printf '\t<key>VERSION</key>\n\t<string>21A329</string>\n</dict>\n</plist>\n'
    } >"$1.xml"
    "$OTA_DEVICE" sign --identity "$PKI/device.pem" --key "$PKI/device.key" \
        --chain "$PKI/device-ca-chain.pem" "$1.xml" "$1" >/dev/null 2>&1 \
        || echo "# ota-device sign failed for $1"
}
post() {   # post URL FILE: the HTTP status of a phase-2/3 post
    curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/pkcs7-signature' \
        --data-binary "@$2" "$1/ota/enroll"
}
status() {   # status URL: the HTTP status of a phase-1 request
    curl -s -o /dev/null -w '%{http_code}' "$1/ota/profile"
}
count_in() {   # count_in LOG REGEX: matching lines
    grep -Ec -- "$2" "$1" 2>/dev/null || true
}
pg_state() {   # challenges/used/devices/SCEP challenges/certificates
    pg_sql "select (select count(*) from ota_challenge) || '/' ||
        (select count(*) from ota_challenge where used is not null) || '/' ||
        (select count(*) from ota_device) || '/' ||
        (select count(*) from ota_scep_challenge) || '/' ||
        (select count(*) from ota_certificate)"
}
udid() {   # udid N: a distinct device
    printf '6A1B2C3D-0000-4000-8000-%012d' "$1"
}

# ---- challenges minted before a graceful restart ----
challenge_from "$A"
is "$CH_URL" "$B/ota/enroll" "phase 1 on A hands out B's enroll URL (OTAEnrollURL)"
body "$T_WORK/before-a.der" "$(udid 9101)" "$CH"
challenge_from "$B"
body "$T_WORK/before-b.der" "$(udid 9102)" "$CH"
graceful() {   # graceful CONF URL
    local log n
    log=$(dirname "$1")/error.log
    n=$(count_in "$log" AH00493)
    apache2 -d "$(dirname "$1")" -f "$1" -k graceful >/dev/null 2>&1 || return 1
    for _ in $(seq 1 100); do
        [ "$(count_in "$log" AH00493)" -gt "$n" ] && curl -s -o /dev/null "$2/" && return 0
        sleep 0.1
    done
    return 1
}
graceful "$A_CONF" "$A" && graceful "$B_CONF" "$B"
ok $? "apache2 -k graceful on both"
is "$(post "$B" "$T_WORK/before-a.der")" 200 "a challenge minted on A before the restart works on B after it"
is "$(post "$A" "$T_WORK/before-b.der")" 200 "a challenge minted on B before the restart works on A after it"

# ---- the whole flow across both servers ----
D1=6A1B2C3D-0000-4000-8000-00000000D001
out=$("$OTA_DEVICE" enroll --url "$A/ota/profile" --trust "$PKI/signing-root.pem" \
      --identity "$PKI/device.pem" --key "$PKI/device.key" --chain "$PKI/device-ca-chain.pem" \
      --emulate current --timeout 5 --save-dir "$T_WORK/d1" 2>&1)
ok $? "the emulated device enrolls: phase 1 on A, phase 2 on B, SCEP on A, phase 3 on B"
like "$out" 'RESULT: enrolled, final profile installed' "and installs its final profile"
a_access=$(cat "$(dirname "$A_CONF")/access.log")
b_access=$(cat "$(dirname "$B_CONF")/access.log")
like "$a_access" '"GET /ota/profile HTTP/1.1" 200' "A served phase 1"
like "$a_access" '"(GET|POST) /ota/scep\?operation=PKIOperation[^"]*" 200' "A served the SCEP PKIOperation"
like "$b_access" "\"POST /ota/enroll HTTP/1.1\" 200 .* udid=$D1 phase=2" "B served phase 2"
like "$b_access" "\"POST /ota/enroll HTTP/1.1\" 200 .* udid=$D1 phase=3" "B served phase 3"
unlike "$a_access" "udid=$D1 phase=[23]" "A served neither phase 2 nor phase 3"
is "$(pg_sql "select phase || ' ' || (phase2_at > 0)::int || (cert_at > 0)::int || (enrolled_at > 0)::int from ota_device where udid = '$D1'")" \
   "4 111" "PostgreSQL's registry has the device at phase 4 with the time of each step"
serial=$(openssl x509 -in "$T_WORK/d1/device-cert.pem" -noout -serial 2>/dev/null | sed 's/serial=//')
is "$(pg_sql "select cert_serial from ota_device where udid = '$D1'")" "$serial" \
   "and the serial of the certificate A issued ($serial)"
is "$(pg_sql "select udid from ota_certificate where serial = '$serial'")" "$D1" \
   "the certificate is recorded for the device"
unlike "$(cat "$B_LOG")" OTA00050 "B learned A's capabilities over HTTP (no fallback)"

# ---- a challenge used on A is refused on B ----
challenge_from "$A"
body "$T_WORK/once.der" "$(udid 9201)" "$CH"
is "$(post "$A" "$T_WORK/once.der")" 200 "a challenge redeemed on A"
before=$(pg_state)
n0=$(count_in "$B_LOG" OTA00039)
is "$(post "$B" "$T_WORK/once.der")" 403 "is refused on B"
is "$(( $(count_in "$B_LOG" OTA00039) - n0 ))" 1 "with OTA00039 in B's log"
is "$(pg_state)" "$before" "and nothing is stored"

# ---- 16 racing posts of one challenge over both servers ----
N=16
challenge_from "$B"
body "$T_WORK/race.der" "$(udid 9301)" "$CH"
before=$(pg_state)
a39=$(count_in "$A_LOG" OTA00039) b39=$(count_in "$B_LOG" OTA00039)
a41=$(count_in "$A_LOG" OTA00041) b41=$(count_in "$B_LOG" OTA00041)
for i in $(seq 1 $N); do
    [ $((i % 2)) -eq 0 ] && url=$A || url=$B
    { post "$url" "$T_WORK/race.der"; echo; } >"$T_WORK/race/$i" &
done
wait
codes=$(cat "$T_WORK"/race/* | sort | uniq -c | sed 's/^ *//' | tr '\n' ' ')
is "$codes" "1 200 $((N - 1)) 403 " "$N parallel posts of one challenge: one 200, $((N - 1)) 403"
is "$(( $(count_in "$A_LOG" OTA00039) - a39 + $(count_in "$B_LOG" OTA00039) - b39 ))" $((N - 1)) \
   "$((N - 1)) OTA00039 lines over both logs"
is "$(( $(count_in "$A_LOG" OTA00041) - a41 + $(count_in "$B_LOG" OTA00041) - b41 ))" 1 \
   "one OTA00041 (accepted)"
IFS=/ read -r c0 u0 d0 s0 x0 <<<"$before"
IFS=/ read -r c1 u1 d1 s1 x1 <<<"$(pg_state)"
is "$((u1 - u0)) $((d1 - d0)) $((s1 - s0)) $((c1 - c0))" "1 1 1 0" \
   "one challenge consumed, one device row, one SCEP challenge, no challenge added"
is "$(pg_sql "select count(*) from ota_device where udid = '$(udid 9301)'")" 1 "the racing device is recorded once"

# ---- the database restarts: service resumes by itself ----
recovers() {   # recovers URL: 10 phase-1 answers in a row are 200, within 15 s
    local ok_run=0 fails=0 t0=$SECONDS code
    while [ $((SECONDS - t0)) -lt 15 ]; do
        code=$(status "$1")
        if [ "$code" = 200 ]; then
            ok_run=$((ok_run + 1))
            [ $ok_run -ge 10 ] && { RECOVERY="$fails failed first"; return 0; }
        else
            ok_run=0
            fails=$((fails + 1))
            sleep 0.2
        fi
    done
    RECOVERY="$fails failed, never 10 in a row"
    return 1
}
is "$(count_in "$A_LOG" 'OTA0001[34]') $(count_in "$B_LOG" 'OTA0001[34]')" "0 0" \
   "no database error so far"
# A restart between two requests: each connection A's pools hold is dead;
# its next request fails (503) and mod_dbd's check reconnects it in place
# (PQreset). B has no connection to lose.
for url in "$A" "$A" "$A" "$B"; do status "$url" >/dev/null; done
conns=$(pg_sql "select count(*) from pg_stat_activity where usename = '$PG_USER'
                and pid <> pg_backend_pid()")
pg_stop && pg_start
ok $? "PostgreSQL restarted on the same port"
recovers "$A"
ok $? "A serves again without a restart of apache2 ($RECOVERY)"
recovers "$B"
ok $? "B serves again ($RECOVERY)"
failed=$(count_in "$A_LOG" 'OTA0001[34]')
[ "$failed" -le "$conns" ] && [ "$(count_in "$A_LOG" 'OTA00014: .*terminating connection')" = "$failed" ]
ok $? "at most one failed request per connection A had open ($failed for $conns), each on its dead session"
is "$(count_in "$B_LOG" 'OTA0001[34]')" 0 "none on B"

# An outage: every database request gets 503 with its own log id, and
# nothing is stored. (A may still hold a connection that has not served
# since the restart: it fails once, hence the tries.)
challenge_from "$A" 5
body "$T_WORK/outage.der" "$(udid 9401)" "$CH"
before=$(pg_state)
pg_stop
ok $? "PostgreSQL stopped"
for s in A B; do
    eval "url=\$$s log=\$${s}_LOG"
    n0=$(count_in "$log" 'OTA0001[34]')
    codes=$(for _ in 1 2 3; do status "$url"; echo; done | sort -u | tr '\n' ' ')
    is "$codes" "503 " "database down: phase 1 on $s answers 503"
    is "$(( $(count_in "$log" 'OTA0001[34]') - n0 ))" 3 "each logged with OTA00013 or OTA00014 ($s)"
    n0=$(count_in "$log" 'OTA0001[34]')
    is "$(post "$url" "$T_WORK/outage.der")" 503 "database down: phase 2 on $s answers 503"
    is "$(( $(count_in "$log" 'OTA0001[34]') - n0 ))" 1 "logged with OTA00013 or OTA00014 ($s)"
done
pg_start
ok $? "PostgreSQL started again on the same port"
is "$(pg_state)" "$before" "nothing was stored or consumed during the outage ($before)"
recovers "$A"
ok $? "A serves again by itself ($RECOVERY)"
recovers "$B"
ok $? "B serves again by itself ($RECOVERY)"
is "$(post "$B" "$T_WORK/outage.der")" 200 "the challenge refused during the outage still works"

ab_stop
# A: races lost on A, the outage; B: the same, and the replay from A.
# AH00639: mod_dbd's check found a dead connection it could not reset;
# AH00629: it could not open a new one; AH02655: so the pool had none.
T_LOG=$A_LOG log_clean OTA00039 OTA00013 OTA00014 AH00639 AH00629 AH02655
T_LOG=$B_LOG log_clean OTA00039 OTA00013 AH00629
done_testing
