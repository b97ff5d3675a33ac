#!/bin/bash
# Licensed under the Apache License, Version 2.0 (see LICENSE).
# make bench-scale: the module at two registry sizes (1,000 and 1,000,000
# devices, each with its challenges, SCEP challenges and certificates), on
# sqlite3 and on PostgreSQL, in one run: every phase under load (latency
# tail, errors, server CPU per request) and every view of the status page
# (server time from the access log), so that each claim is a ratio of
# numbers measured minutes apart on the same machine. Registries are made
# with SQL (recursive CTE, generate_series), never through HTTP.
#
# Knobs (environment): BENCH_SCALE_SIZES ("1000 1000000"),
# BENCH_SCALE_DBS ("sqlite pgsql"), BENCH_N (2000 requests per phase),
# BENCH_C (8 in flight), BENCH_SCALE_VIEWS (20 requests per view),
# BENCH_SCALE_PURGE (1: at the largest sqlite3 size, a million expired
# challenges are purged under phase-1 load), KEEP=1.
# Writes build/bench/scale.txt (raw measurements, then the Markdown
# summary, also printed); logs in build/bench/logs/scale-*.

set -u

. "$(dirname "$0")/../t/lib.sh"
. "$T_TOP/bench/lib.sh"
[ -f "$T_TOP/t/pg.sh" ] && . "$T_TOP/t/pg.sh"

SIZES=${BENCH_SCALE_SIZES:-1000 1000000}
DBS=${BENCH_SCALE_DBS:-sqlite pgsql}
N=${BENCH_N:-2000}
C=${BENCH_C:-8}
VIEWS=${BENCH_SCALE_VIEWS:-20}
PURGE=${BENCH_SCALE_PURGE:-1}
DEADLINE=${BENCH_DEADLINE:-25}
TIMEOUT=${BENCH_TIMEOUT:-10}
FLOOR=$OUT/floor
RESULT=$OUT/scale.txt

t_workdir ota-scale || die "no work directory"
WORK=$T_WORK
KV=$WORK/results.kv
cleanup() {
    server_stop
    declare -F pg_stop >/dev/null && pg_stop
    [ -n "${KEEP:-}" ] && echo "work directory kept: $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$OUT" "$LOGS"
rm -f "$LOGS"/scale-*
[ -x "$DEV" ] && [ -x "$FLOOR" ] || die "build first: make all build/bench/floor"
pki_build || die "test PKI"

record() { echo "$*" >>"$KV"; }
val() {   # val LABEL KEY: one value, or "-"
    awk -v l="$1" -v k="$2" '$1 == l { for (i = 2; i <= NF; i++) {
        n = index($i, "="); if (substr($i, 1, n - 1) == k) v = substr($i, n + 1) } }
        END { print (v == "" ? "-" : v) }' "$KV"
}
num() { [[ $1 =~ ^[-+]?[0-9]+(\.[0-9]+)?$ ]]; }
div() {
    if num "$1" && num "$2"; then
        awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'
    else
        echo "-"
    fi
}
elapsed() { echo $(( $(date +%s) - $1 )); }

# ---- the server: production-like mpm_event (bench/lib.sh), a status
# page, the access log's %D (microseconds) for the views ----
DB_LINES=
scale_start() {   # scale_start NAME DB-DIR [LOGLEVEL]
    T_MPM=mpm_event T_LOGLEVEL=${3:-warn} T_DB_DIR=$2 apache_start "$1" \
        "$(bench_config event)
$DB_LINES
$(location /ota/status ota-status "$(auth_basic 'user alice')")
LogFormat \"%D %>s %U%q\" timing
CustomLog \"$WORK/$1-timing.log\" timing" >"$LOGS/scale-$1-start.log" 2>&1 || {
        cat "$LOGS/scale-$1-start.log" >&2
        die "apache2 ($1) did not start"
    }
    SERVER_DIR=$(dirname "$T_CONF")
    BASE=$T_BASE
}

load() {   # load LABEL ARGS...: one `ota-device load`, its LOAD line recorded
    local label=$1 line
    shift
    "$DEV" load --timeout "$TIMEOUT" "$@" >"$LOGS/scale-$label.log" 2>&1
    line=$(grep '^LOAD ' "$LOGS/scale-$label.log" | tail -1)
    if [ -z "$line" ]; then
        say "$label produced no result: $(tail -2 "$LOGS/scale-$label.log" | tr '\n' ' ')"
        record "$label" failed=1
        return 1
    fi
    record "$label" "${line#LOAD }"
    say "$label: $(echo "$line" | grep -oE '(rps|p50_ms|p99_ms|errors|server_cpu_us)=[^ ]*' | tr '\n' ' ')"
}

warmup() {   # both children started, every thread run
    local i
    for i in 1 2 3 4; do
        load "$1-warmup" --phase 1 --url "$BASE/ota/profile" --requests $((C * 40)) \
            --concurrency "$C" --pidfile "$SERVER_DIR/httpd.pid" >/dev/null
        [ "$(val "$1-warmup" procs_after)" -ge 3 ] 2>/dev/null && break
    done
}

phase() {   # phase ID PHASE: one timed run
    local id=$1 ph=$2
    local dev=(--identity "$PKI/device.pem" --key "$PKI/device.key"
               --chain "$PKI/device-ca-chain.pem" --trust "$PKI/signing-root.pem")
    local common=(--requests "$N" --concurrency "$C" --deadline "$DEADLINE"
                  --pidfile "$SERVER_DIR/httpd.pid")
    case $ph in
    1) load "$id-p1" --phase 1 --url "$BASE/ota/profile" "${common[@]}" \
           --trust "$PKI/signing-root.pem" ;;
    2|3) load "$id-p$ph" --phase "$ph" --url "$BASE/ota/profile" "${common[@]}" "${dev[@]}" ;;
    scep) load "$id-scep" --phase scep --url "$BASE/scep-static" "${common[@]}" \
           --challenge "$SECRET" ;;
    esac
}

# ---- registries ----
sql_sqlite() { sqlite3 -bail "$DBFILE" "$@"; }

# The schema as the module makes it: a server answers once.
schema() {   # schema ID
    scale_start "$1-schema" "$DBDIR"
    curl -s -o /dev/null -u alice:secret "$BASE/ota/status"
    server_stop
}

fill_sqlite() {   # fill_sqlite COUNT: devices (2/3 with certificates),
    # as many phase-1 challenges (used or not, expired 1-5 days ago: within
    # the retention), half as many SCEP challenges; the triggers keep the
    # tallies and the search index
    (cd "$T_TOP/bench" && sql_sqlite -cmd ".parameter set :N $1" \
        -cmd ".parameter set :now $(date +%s)" <scale-sqlite.sql)
}

fill_pgsql() {
    pg_su -d "$PG_DB" -v N="$1" -v now="$(date +%s)" -f "$T_TOP/bench/scale-pgsql.sql" \
        >"$LOGS/scale-fill.log" 2>&1
}

registry() {   # registry DB SIZE ID: a fresh registry of SIZE devices
    local db=$1 size=$2 id=$3 t0
    DBDIR=$WORK/$id/db
    DBFILE=$DBDIR/ota.db
    mkdir -p "$DBDIR"
    [ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$DBDIR"
    if [ "$db" = pgsql ]; then
        pg_su -c "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB OWNER $PG_USER" \
            >/dev/null || die "cannot recreate the database"
    fi
    schema "$id"
    t0=$(date +%s)
    "fill_$db" "$size" || die "filling the $db registry failed"
    record "$id-fill" seconds="$(elapsed "$t0")"
    [ "$db" = sqlite ] && [ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$DBDIR"/*
    say "$id: $size devices in $(elapsed "$t0") s"
}

db_bytes() {   # the database's size on disk
    if [ "$1" = pgsql ]; then
        pg_sql "select pg_database_size('$PG_DB')"
    else
        cat "$DBFILE" "$DBFILE-wal" 2>/dev/null | wc -c
    fi
}

# ---- the status page's views: each VIEWS times, its server time (%D) ----
view() {   # view ID NAME QUERY
    local id=$1 name=$2 q=$3 log=$WORK/$1-views-timing.log code i lines
    : >"$WORK/view.times"
    for i in $(seq 1 $((VIEWS + 2))); do
        lines=$(wc -l <"$log")
        code=$(curl -s -o "$WORK/view.body" -w '%{http_code}' -u alice:secret \
               "$BASE/ota/status$q")
        [ "$code" = 200 ] || { say "$id $name: HTTP $code"; record "$id-view-$name" failed="$code"; return; }
        # this request's line: written once the answer went out
        for _ in $(seq 1 100); do
            [ "$(wc -l <"$log")" -gt "$lines" ] && break
            sleep 0.01
        done
        [ "$i" -gt 2 ] && tail -1 "$log" | cut -d' ' -f1 >>"$WORK/view.times"
    done
    record "$id-view-$name" $(sort -n "$WORK/view.times" | awk '{ a[NR] = $1 }
        END { printf "p50_ms=%.1f max_ms=%.1f", a[int((NR + 1) / 2)] / 1000, a[NR] / 1000 }') \
        bytes="$(wc -c <"$WORK/view.body")"
    say "$id view $name: $(val "$id-view-$name" p50_ms) ms (max $(val "$id-view-$name" max_ms))"
}

sql_of() {   # sql_of DB SQL: one value
    if [ "$1" = pgsql ]; then
        pg_sql "$2"
    else
        sql_sqlite "$2"
    fi
}

views() {   # views ID DB SIZE
    local id=$1 db=$2 size=$3 deep user serial
    # the cursor of the page 95% deep (found here with OFFSET, once; the
    # page itself never counts rows); a user (50 devices) and a part of a
    # serial (one device) of the device in the middle
    deep=$(sql_of "$db" "select last_seen || '%3A' || udid from ota_device
                         order by last_seen desc, udid desc
                         limit 1 offset $(( size * 95 / 100 ))")
    user=$(sql_of "$db" "select username from ota_device where id = $(( size / 2 ))")
    serial=$(sql_of "$db" "select substr(serial, 4, 7) from ota_device
                           where id = $(( size / 2 ))")
    record "$id-queries" user="$user" serial="$serial" deep="$deep"
    scale_start "$id-views" "$DBDIR"
    view "$id" first ""
    view "$id" search-user "?q=$user"
    view "$id" search-serial "?q=$serial"
    view "$id" search-common "?q=iPad13"
    view "$id" search-none "?q=iPad14"
    view "$id" deep "?after=$deep"
    view "$id" phase "?phase=3"
    view "$id" json "?format=json"
    server_stop
    cp "$WORK/$id-views-timing.log" "$LOGS/scale-$id-views-timing.log" 2>/dev/null
}

# ---- retention: a million expired challenges purged under load ----
purge_run() {   # purge_run ID COUNT
    local id=$1 count=$2 t0 before after
    sql_sqlite -cmd ".parameter set :N $count" -cmd ".parameter set :now $(date +%s)" \
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :N)
         INSERT INTO ota_challenge (digest, username, created, expires, used)
         SELECT printf('OLD%061X', i), 'old', :now - 40 * 86400, :now - 30 * 86400,
                CASE WHEN i % 2 THEN :now - 40 * 86400 END FROM n" || return
    before=$(sql_sqlite "select count(*) from ota_challenge")
    scale_start "$id-purge" "$DBDIR" "warn ota_enroll:info"
    t0=$(date +%s)
    # phase 1 while the pass deletes (it starts 5 s after the start)
    sleep 4
    load "$id-purge-p1" --phase 1 --url "$BASE/ota/profile" --requests $((N * 5)) \
        --concurrency "$C" --deadline 120 --pidfile "$SERVER_DIR/httpd.pid"
    for _ in $(seq 1 600); do
        grep -q OTA00142 "$SERVER_DIR/error.log" && break
        sleep 1
    done
    server_stop
    after=$(sql_sqlite "select count(*) from ota_challenge")
    record "$id-purge" before="$before" after="$after" seconds="$(elapsed "$t0")" \
        log="$(grep -o 'deleted [0-9]* challenges' "$LOGS/scale-$id-purge-error.log" 2>/dev/null | head -1 | tr ' ' _)"
}

server_stopped() {   # bench/lib.sh calls it: keep the error log
    cp "$2" "$LOGS/scale-$1-error.log" 2>/dev/null
}

# ---- the run ----
T_START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "sizes: $SIZES; databases: $DBS; $N requests per phase, $C in flight"
"$FLOOR" "$PKI" "$PROFILE" --seconds 1 >"$LOGS/scale-floor.log" 2>&1 || die "floor failed"
grep '^FLOOR ' "$LOGS/scale-floor.log" | while read -r _ op rest; do
    record "floor-${op#op=}" $rest
done

for db in $DBS; do
    if [ "$db" = pgsql ]; then
        pg_available || { say "PostgreSQL not available: skipped"; continue; }
        pg_init >"$LOGS/scale-pg.log" 2>&1 || die "PostgreSQL did not start"
        # durable commits, as sqlite3's; room for a million devices
        pg_as sh -c "cat >>'$PG_DATA/postgresql.conf'" <<CONF
fsync = on
synchronous_commit = on
full_page_writes = on
shared_buffers = 256MB
max_wal_size = 4GB
CONF
        pg_stop && pg_start || die "PostgreSQL did not restart"
        DB_LINES="DBDriver pgsql
DBDParams \"$PG_PARAMS\""
    else
        DB_LINES=
    fi
    for size in $SIZES; do
        id=$db-$size
        registry "$db" "$size" "$id"
        record "$id-db" bytes_before="$(db_bytes "$db")"
        for ph in 1 2 3 scep; do
            scale_start "$id-p$ph" "$DBDIR"
            warmup "$id"
            phase "$id" "$ph"
            server_stop
        done
        views "$id" "$db" "$size"
        record "$id-db" bytes_after="$(db_bytes "$db")"
        last=$size
    done
    if [ "$db" = sqlite ] && [ "$PURGE" = 1 ]; then
        purge_run "sqlite-$last" 1000000
    fi
    [ "$db" = pgsql ] && pg_stop
done
T_END=$(date +%s)

# ---- the report ----
made() {   # "DB SIZE ID" of every registry that was made, one a line
    local db size
    for db in $DBS; do
        for size in $SIZES; do
            [ "$(val "$db-$size-fill" seconds)" = - ] || echo "$db $size $db-$size"
        done
    done
}

report() {
    local db size id ph lo hi v
    echo "## mod_ota_enroll: make bench-scale"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), $((T_END - T_START)) s; $(nproc) CPUs, load average $LOAD_START at the start"
    echo "- software: $(apache2 -v | sed -n 's/^Server version: //p'), $(openssl version | cut -d' ' -f1-2), sqlite $(sqlite3 --version | cut -d' ' -f1)$(declare -F pg_available >/dev/null && pg_available && echo ", PostgreSQL $("$PG_BIN/postgres" --version | awk '{ print $3 }')")"
    echo "- mpm_event, 2 processes x 8 threads, DBDMax 8; $N requests per phase, $C in flight; sqlite3 in WAL mode on disk (synchronous FULL); PostgreSQL with fsync and synchronous_commit on; views: $VIEWS requests each, server time (%D)"
    echo
    echo "| db | devices | registry made in | phase | req/s | p50 ms | p99 ms | p99 ÷ p50 | errors | server CPU µs/req | CPU ÷ floor |"
    echo "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    made | while read -r db size id; do
        for ph in p1 p2 p3 scep; do
            case $ph in p1) v=phase1 ;; p2) v=phase2 ;; p3) v=phase3 ;; scep) v=scep ;; esac
            echo "| $db | $size | $(val "$id-fill" seconds) s | ${ph#p} | $(val "$id-$ph" rps) | $(val "$id-$ph" p50_ms) | $(val "$id-$ph" p99_ms) | $(div "$(val "$id-$ph" p99_ms)" "$(val "$id-$ph" p50_ms)") | $(val "$id-$ph" errors) | $(val "$id-$ph" server_cpu_us) | $(div "$(val "$id-$ph" server_cpu_us)" "$(val "floor-$v" us)") |"
        done
    done
    echo
    echo "| db | devices | first page | ?q=user (50 devices) | ?q=serial part (1) | ?q=iPad13 (1 in 4) | ?q=iPad14 (none) | deep (95%) | ?phase=3 | JSON | database MiB before → after |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    made | while read -r db size id; do
        printf '| %s | %s ' "$db" "$size"
        for v in first search-user search-serial search-common search-none deep phase json; do
            printf '| %s (max %s) ' "$(val "$id-view-$v" p50_ms)" "$(val "$id-view-$v" max_ms)"
        done
        printf '| %s → %s |\n' "$(awk -v b="$(val "$id-db" bytes_before)" 'BEGIN { printf "%.0f", b / 1048576 }')" \
            "$(awk -v b="$(val "$id-db" bytes_after)" 'BEGIN { printf "%.0f", b / 1048576 }')"
    done
    echo "(view times: median and max server time in ms over $VIEWS requests)"
    echo
    echo "### Ratios"
    for db in $DBS; do
        set -- $SIZES
        lo=$db-$1
        hi=$db-${!#}
        [ "$(val "$hi-p1" server_cpu_us)" = - ] && continue
        for ph in p1 p2 p3 scep; do
            echo "- $db, phase ${ph#p}: CPU per request at ${!#} ÷ at $1 devices = $(div "$(val "$hi-$ph" server_cpu_us)" "$(val "$lo-$ph" server_cpu_us)"); p99 ÷ p50 $(div "$(val "$lo-$ph" p99_ms)" "$(val "$lo-$ph" p50_ms)") and $(div "$(val "$hi-$ph" p99_ms)" "$(val "$hi-$ph" p50_ms)")"
        done
    done
    echo "- floor (bench/floor, µs per operation): phase 1 $(val floor-phase1 us), phase 2 $(val floor-phase2 us), phase 3 $(val floor-phase3 us), SCEP $(val floor-scep us)"
    for id in $(awk '$1 ~ /-purge$/ { print $1 }' "$KV"); do
        echo "- retention (${id%-purge} devices, sqlite3): $(val "$id" before) challenges, 1,000,000 of them expired 30 days ago; the pass that started 5 s after the server deleted them while $((N * 5)) phase-1 requests ran ($(val "$id-p1" rps) req/s, p50 $(val "$id-p1" p50_ms) ms, p99 $(val "$id-p1" p99_ms) ms, $(val "$id-p1" errors) errors; LogLevel ota_enroll:info): $(val "$id" after) left $(val "$id" seconds) s after the start, the rows of the last $(( (N * 5) / 1000 ))k requests and those within the retention"
    done
}

{
    echo "# raw measurements (LABEL key=value)"
    cat "$KV"
    echo
    report
} >"$RESULT"
report
say "results: $RESULT"
