#!/bin/bash
# The sqlite3 database under a running server: moved away (and back),
# replaced, deleted, read-only (the file, then its directory), on a full
# disk and damaged. Each failure answers 503 with Retry-After and one log
# line with its id, writes nothing anywhere, and shows on the status page
# (a banner in the HTML, "store": "failing" in the JSON); each recovers as
# README says (the file moved back, or a restart).
. "$(dirname "$0")/lib.sh"

t_setup ota-store
udid=6A1B2C3D-0000-4000-8000-00000000DB01
w=$T_WORK/bodies
mkdir -p "$w"

CONFIG="$(site_locations auth=none status=on)"
# one child at a time: the requests below meet the connections they mean to
T_MPM=mpm_prefork apache_start store "
StartServers 1
MinSpareServers 1
MaxSpareServers 1
$CONFIG"
ok $? "apache2 starts"
dir=$(dirname "$T_CONF")
db_dir=$(dirname "$T_DB")

# req PATH [CURL-ARGS]: CODE, HDRS (the answer's headers) and BODY
req() {
    local path=$1
    shift
    CODE=$(curl -s -D "$T_WORK/h" -o "$T_WORK/b" -w '%{http_code}' "$@" \
           "$(t_url "$path")")
    HDRS=$(tr -d '\r' <"$T_WORK/h")
    BODY=$(tr -d '\0' <"$T_WORK/b")
}

# unavailable NAME ID PATH [CURL-ARGS]: 503 with Retry-After and one
# more line with ID
unavailable() {
    local name=$1 id=$2 n0
    shift 2
    n0=$(log_count "$id")
    req "$@"
    is "$CODE" 503 "$name: 503"
    has "$HDRS" "Retry-After: 30" "$name: Retry-After"
    is "$(( $(log_count "$id") - n0 ))" 1 "$name: one $id line"
}

# status_failing NAME ID CODE: the status page, HTML and JSON, says the
# store is failing with ID, answered with CODE
status_failing() {
    req /ota/status -u alice:secret
    is "$CODE" "$3" "$1: the status page answers $3"
    has "$BODY" "<p id=\"store\" class=\"bad\" data-id=\"$2\">" \
        "$1: the page says the database is failing ($2)"
    req '/ota/status?format=json' -u alice:secret
    is "$CODE" "$3" "$1: JSON: $3"
    is "$(printf '%s' "$BODY" | jq -r '.store + " " + .store_failure.id')" \
        "failing $2" "$1: JSON: \"store\": \"failing\", store_failure.id $2"
}

challenges() { db_count 'select count(*) from ota_challenge'; }

# restart_server [graceful|restart]: the same server, restarted
restart_server() {
    apache2 -d "$dir" -f "$T_CONF" -k "$1" && sleep 1.5 && wait_http "$T_BASE/"
}

# start_again: the stopped server, started with the same configuration
start_again() {
    apache2 -d "$dir" -f "$T_CONF" -k start && wait_http "$T_BASE/"
}

# a healthy store first
req /ota/profile
is "$CODE" 200 "phase 1 answers"
req '/ota/status?format=json' -u alice:secret
is "$(printf '%s' "$BODY" | jq -c '[.store, .store_failure]')" '["ok",null]' \
    "status JSON: \"store\": \"ok\""
unlike "$(curl -s -u alice:secret "$(t_url /ota/status)")" 'id="store"' \
    "status HTML: no banner"

# ---- moved away: 503 until it is back, then every connection uses it ----
c0=$(challenges)
mv "$T_DB" "$T_DB.away"
unavailable "moved away" OTA00005 /ota/profile
status_failing "moved away" OTA00005 503
has "$BODY" "is gone (deleted or moved)" "moved away: JSON gives the reason"
# the child that replaces this one opens the path anew (sqlite3 makes an
# empty file there)
kill -KILL "$(pgrep -P "$(cat "$dir/httpd.pid")")"
for _ in $(seq 1 50); do
    [ -e "$T_DB" ] && break
    sleep 0.2
done
ok "$([ -e "$T_DB" ]; echo $?)" "a new child's connection made an empty file at the path"
unavailable "an empty file in its place" OTA00006 /ota/profile
mv "$T_DB.away" "$T_DB"
n18=$(log_count OTA00018)
codes=
for _ in $(seq 1 8); do
    codes="$codes$(curl -s -o /dev/null -w '%{http_code} ' "$(t_url /ota/profile)")"
done
is "$codes" "200 200 200 200 200 200 200 200 " "moved back: every request answers"
[ "$(log_count OTA00018)" -gt "$n18" ]
ok $? "the connection opened on the empty file was reopened on it (OTA00018)"
is "$(challenges)" $((c0 + 8)) "moved away: nothing written anywhere but the 8 answered"

# ---- replaced: 503 until a restart; nothing written to either file ----
sqlite3 "$T_DB" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
sqlite3 "$T_DB" ".backup $T_WORK/copy.db"
sqlite3 "$T_WORK/copy.db" "insert into ota_challenge (digest, username,
    created, expires) values ('copy-marker', '', 0, 0)"
[ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$T_WORK/copy.db"
mv "$T_WORK/copy.db" "$T_DB"
c1=$(challenges)
unavailable "replaced" OTA00006 /ota/profile
has "$(grep OTA00006 "$T_LOG" | tail -1)" "restart Apache to use the new file" \
    "replaced: the log line says what to do"
status_failing "replaced" OTA00006 503
c=$(challenge_of "$(t_url /ota/profile)")
is "$c" "" "replaced: no challenge handed out"
is "$(challenges)" "$c1" "replaced: nothing written to the new file"
restart_server graceful
ok $? "graceful restart"
req /ota/profile
is "$CODE" 200 "after the restart the new file is used"
is "$(challenges)" $((c1 + 1)) "one challenge stored in it"
is "$(db_count "select count(*) from ota_challenge where digest = 'copy-marker'")" 1 \
    "the new file's own row is there"

# ---- deleted: 503 until a restart, which starts an empty registry ----
rm -f "$T_DB"
unavailable "deleted" OTA00005 /ota/profile
restart_server restart
ok $? "restart"
req /ota/profile
is "$CODE" 200 "after the restart phase 1 answers"
is "$(challenges)" 1 "an empty registry with that one challenge"

# ---- read-only file: 503 naming what to fix, nothing written ----
c=$(challenge_of "$(t_url /ota/profile)")
device_attrs "$udid" "$c" >"$w/attrs.xml"
device_sign device "$w/attrs.xml" "$w/phase2.der"
apache_stop
if [ "$(id -u)" -eq 0 ]; then
    chown root:root "$T_DB" && chmod 644 "$T_DB"
    user=nobody owner=root mode=0644
else
    chmod 444 "$T_DB"
    user=$(id -un) owner=$(id -un) mode=0444
fi
sum=$(md5sum <"$T_DB")
start_again
ok $? "started with a read-only database"
unavailable "read-only: phase 1" OTA00007 /ota/profile
line=$(grep OTA00007 "$T_LOG" | tail -1)
has "$line" "make ota.db, ota.db-wal and ota.db-shm and their directory writable by $user" \
    "read-only: the log line says what to fix"
has "$line" "not writable now: $T_DB (owner $owner, mode $mode)" \
    "read-only: and names the file, its owner and mode"
unavailable "read-only: phase 2" OTA00007 /ota/enroll \
    -H 'Content-Type: application/pkcs7-signature' --data-binary "@$w/phase2.der"
status_failing "read-only (the page still reads)" OTA00007 200
has "$BODY" "read-only for $user" "read-only: JSON gives the reason"
apache_stop
is "$(md5sum <"$T_DB")" "$sum" "read-only: the file is unchanged"
chmod 644 "$T_DB"
[ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$T_DB"
# the server could not checkpoint into the read-only file: the last
# connection now does, and removes the -wal and -shm
sqlite3 "$T_DB" 'select count(*) from ota_device' >/dev/null

# ---- read-only directory: even reading fails (no -wal, no -shm) ----
[ ! -e "$T_DB-wal" ] && [ ! -e "$T_DB-shm" ]
ok $? "no -wal or -shm left by the stopped server"
if [ "$(id -u)" -eq 0 ]; then
    chown root:root "$db_dir" && chmod 755 "$db_dir"
else
    chmod 555 "$db_dir"
fi
start_again
ok $? "started with a read-only directory"
status_failing "read-only directory" OTA00007 503
has "$BODY" "$db_dir (owner" "read-only directory: the JSON names the directory"
unavailable "read-only directory: phase 1" OTA00007 /ota/profile
apache_stop
chmod 755 "$db_dir"
[ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$db_dir"

# ---- damaged: 503 saying to restore it ----
rm -f "$T_DB-wal" "$T_DB-shm"
printf 'this is not an sqlite3 database, not at all' \
    | dd of="$T_DB" conv=notrunc status=none
start_again
ok $? "started with a damaged database"
unavailable "damaged" OTA00009 /ota/profile
has "$(grep OTA00009 "$T_LOG" | tail -1)" "restore it from a backup" \
    "damaged: the log line says to restore it"
apache_stop
# (the background retention pass meets the read-only file too: OTA00143)
log_clean OTA00005 OTA00006 OTA00007 OTA00009 OTA00143

# ---- a full disk (root: a small tmpfs): 503, then it recovers ----
small=$T_WORK/small
unmount_small() { apache_stop; umount "$small" 2>/dev/null; }
if [ "$(id -u)" -eq 0 ] && mkdir -p "$small" \
        && mount -t tmpfs -o size=4m tmpfs "$small" 2>/dev/null; then
    T_CLEANUP+=(unmount_small)
    chmod 777 "$small"
    T_DB_DIR=$small apache_start full "$CONFIG"
    ok $? "apache2 starts with its database on a 4 MB file system"
    req /ota/profile
    is "$CODE" 200 "phase 1 answers"
    c0=$(challenges)
    dd if=/dev/zero of="$small/fill" bs=64k status=none 2>/dev/null
    cat /dev/zero >>"$small/fill" 2>/dev/null
    unavailable "disk full" OTA00008 /ota/profile
    has "$(grep OTA00008 "$T_LOG" | tail -1)" "database or disk is full" \
        "disk full: the log line says so"
    status_failing "disk full" OTA00008 200
    rm -f "$small/fill"
    req /ota/profile
    is "$CODE" 200 "space freed: phase 1 answers again"
    is "$(challenges)" $((c0 + 1)) "only the answered challenge is stored"
    unmount_small
    log_clean OTA00008
else
    skip "mounting a tmpfs needs root" "a full disk"
fi
done_testing
