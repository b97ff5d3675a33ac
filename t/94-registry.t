#!/bin/bash
# The registry's housekeeping under a running apache2: the sqlite3 write
# lock is the mutex "ota-enroll-db" that the Mutex directive configures
# (its lock file goes where Mutex says); the retention purge, a background
# pass, deletes the challenges (phase 1 and SCEP, used or not) that
# expired longer ago than OTAEnrollRetention and nothing else, and the
# status page's row counts follow; with PostgreSQL, two servers purge one
# database side by side without errors.
. "$(dirname "$0")/lib.sh"
t_setup
pg_optional

LOCKS=$T_WORK/locks
mkdir -p "$LOCKS"
chmod 755 "$LOCKS"
DAY=86400

conf() {   # conf RETENTION-LINE: the site, a status page, the lock's place
    cat <<CONF
Mutex flock:$LOCKS ota-enroll-db
$1
$(site_locations status=on)
CONF
}

# wait_log ID COUNT: until the error log has COUNT lines with ID (20 s)
wait_log() {
    for _ in $(seq 1 100); do
        [ "$(log_count "$1")" -ge "$2" ] && return 0
        sleep 0.2
    done
    return 1
}

graceful() {   # a graceful restart: the purge's schedule starts again
    local n0
    n0=$(log_count 'resuming normal operations')
    kill -USR1 "$(cat "$(dirname "$T_CONF")/httpd.pid")"
    for _ in $(seq 1 50); do
        [ "$(log_count 'resuming normal operations')" -gt "$n0" ] && return 0
        sleep 0.2
    done
    return 1
}

# ---- sqlite3: the lock, and a pass ----
apache_start reg "$(conf "OTAEnrollRetention 7")"
ok $? "apache2 starts with OTAEnrollRetention 7 and Mutex flock:... ota-enroll-db"
ls "$LOCKS" | grep -q '^ota-enroll-db'
ok $? "the write lock's file is where the Mutex directive puts it ($(ls "$LOCKS" | tr '\n' ' '))"
for i in 1 2 3; do
    curl -s -o /dev/null -u alice:secret "$T_BASE/ota/profile"
done
is "$(db_count 'select count(*) from ota_challenge')" 3 "three phase-1 challenges, valid"

now=$(date +%s)
sqlite3 "$T_DB" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30)
INSERT INTO ota_challenge (digest, username, created, expires, used)
SELECT 'old-' || i, 'bob', $now - 9 * $DAY, $now - 8 * $DAY,
       CASE WHEN i % 2 = 0 THEN $now - 9 * $DAY END FROM n;
INSERT INTO ota_challenge (digest, username, created, expires, used) VALUES
    ('day-old', 'bob', $now - 2 * $DAY, $now - $DAY, NULL),
    ('day-old-used', 'bob', $now - 2 * $DAY, $now - $DAY, $now - 2 * $DAY);
INSERT INTO ota_device (udid, serial, product, version, username, phase,
                        first_seen, last_seen)
VALUES ('OLD-DEVICE', 'SNOLD', 'iPhone3,1', '4.0', 'bob', 3, $now - 400 * $DAY,
        $now - 400 * $DAY);
INSERT INTO ota_scep_challenge (digest, udid, subject, created, expires, used)
VALUES ('s-old-1', 'OLD-DEVICE', 'CN=x', $now - 9 * $DAY, $now - 8 * $DAY, NULL),
       ('s-old-2', 'OLD-DEVICE', 'CN=x', $now - 9 * $DAY, $now - 8 * $DAY, $now - 9 * $DAY),
       ('s-valid', 'OLD-DEVICE', 'CN=x', $now, $now + 600, NULL);
INSERT INTO ota_certificate (serial, transaction_id, udid, subject, issued,
                             not_after, cert)
VALUES ('0123', 'old-tid', 'OLD-DEVICE', 'CN=x', $now - 400 * $DAY,
        $now - 35 * $DAY, 'PEM');
SQL
ok $? "old rows in the registry: 30 challenges and 2 SCEP challenges expired 8 days ago"
graceful
ok $? "a graceful restart (the next pass 5 s later)"
wait_log OTA00142 1
ok $? "a pass ran in the background (OTA00142)"
like "$(grep OTA00142 "$T_LOG")" 'deleted 30 challenges and 2 SCEP challenges that expired before' \
    "it says what it deleted"
is "$(db_count "select count(*) from ota_challenge where digest like 'old-%'")" 0 \
   "the challenges expired 8 days ago are gone, used or not"
is "$(db_count "select group_concat(digest, ' ') from (select digest from ota_challenge
                where digest like 'day-old%' order by digest)")" "day-old day-old-used" \
   "those expired a day ago stay (retention 7 days)"
is "$(db_count 'select count(*) from ota_challenge where expires > strftime("%s")')" 3 \
   "and the valid ones"
is "$(db_count "select group_concat(digest) from ota_scep_challenge")" "s-valid" \
   "SCEP challenges alike"
is "$(db_count "select (select count(*) from ota_device where udid = 'OLD-DEVICE') || '/' ||
                (select count(*) from ota_certificate where serial = '0123')")" "1/1" \
   "the device and its (expired) certificate are kept"
json=$(curl -s -u alice:secret "$T_BASE/ota/status?format=json")
is "$(printf '%s' "$json" | jq -c '.tables | [.ota_challenge, .ota_scep_challenge, .ota_device, .ota_certificate]')" \
   "[5,1,1,1]" "the status page's rows per table follow the purge"
apache_stop
log_clean

# ---- retention 0: every expired challenge goes at the next pass ----
apache_start reg "$(conf "OTAEnrollRetention 0")"
ok $? "the same registry with OTAEnrollRetention 0"
wait_log OTA00142 2
ok $? "another pass"
is "$(db_count "select count(*) from ota_challenge where expires <= strftime('%s')")" 0 \
   "no expired challenge is left"
is "$(db_count "select count(*) from ota_challenge")" 3 "the valid ones stay"
apache_stop
log_clean

# ---- PostgreSQL: two servers, one database ----
pg_part() {
    pg_init || return 1
    ab_ports
    T_PORT_FIXED=$A_PORT apache_start pg-a "$(pg_dbd)
$(conf "OTAEnrollRetention 7")" || return 1
    A_CONF=$T_CONF A_LOG=$T_LOG A_BASE=$T_BASE
    curl -s -o /dev/null -u alice:secret "$A_BASE/ota/profile"   # the schema
    now=$(date +%s)
    [ "$(pg_sql "INSERT INTO ota_challenge (digest, username, created, expires, used)
        SELECT 'old-' || i, 'bob', $now - 9 * $DAY, $now - 8 * $DAY, NULL
        FROM generate_series(1, 2500) AS i")" != db-error ] || return 1
    T_PORT_FIXED=$B_PORT apache_start pg-b "$(pg_dbd)
$(conf "OTAEnrollRetention 7")" || return 1
    B_CONF=$T_CONF B_LOG=$T_LOG
    T_CONF=$A_CONF T_LOG=$A_LOG graceful    # A's next pass with B's
}
if [ -n "$PG_HERE" ]; then
    pg_part
    ok $? "PostgreSQL: servers A and B on one database, 2500 old challenges"
    for _ in $(seq 1 100); do
        [ "$(pg_sql "select count(*) from ota_challenge where digest like 'old-%'")" = 0 ] && break
        sleep 0.2
    done
    is "$(pg_sql "select count(*) from ota_challenge where digest like 'old-%'")" 0 \
       "PostgreSQL: the old challenges are gone"
    is "$(pg_sql "select count(*) from ota_challenge")" 1 "PostgreSQL: the valid one stays"
    n=$(( $(T_LOG=$A_LOG log_count OTA00142) + $(T_LOG=$B_LOG log_count OTA00142) ))
    [ "$n" -ge 1 ]
    ok $? "PostgreSQL: a pass logged by A or B (OTA00142: $n)"
    is "$(pg_sql "select sum(challenges) from ota_tally")" 1 \
       "PostgreSQL: the tallies follow the purge"
    T_CONF=$B_CONF apache_stop
    T_LOG=$B_LOG log_clean
    T_CONF=$A_CONF apache_stop
    T_LOG=$A_LOG log_clean
else
    echo "# PostgreSQL not available: its part skipped"
    skip "postgresql not installed"
fi
done_testing
