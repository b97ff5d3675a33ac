# Licensed under the Apache License, Version 2.0 (see LICENSE).
# A throwaway PostgreSQL cluster for the integration tests: initdb in the
# test's work directory, listening on 127.0.0.1 on a free port with its
# socket in the work directory, a role and a database for the module
# (password authentication over TCP), stopped and removed at the end.
# Source it after t/lib.sh (it only defines things):
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/pg.sh"
#   pg_require          # "1..0 # SKIP postgresql not installed" if missing
#   t_setup
#   pg_init             # stopped by t_cleanup at exit
#   ... DBDriver pgsql / DBDParams "$PG_PARAMS" ...
#   pg_sql "select count(*) from ota_device"
#
# As root, the server runs as user postgres (initdb refuses root);
# otherwise as the user running the test.

PG_BIN=${PG_BIN:-}
if [ -z "$PG_BIN" ]; then
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
fi
PG_DIR=
PG_DATA=
PG_SOCK=
PG_LOG=
PG_PORT=
PG_DB=ota
PG_USER=ota
PG_PASSWORD=ota-$RANDOM$RANDOM
PG_PARAMS=
PG_OWNER=

pg_available() {
    [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] && [ -x "$PG_BIN/psql" ] \
        || return 1
    [ "$(id -u)" -ne 0 ] || id postgres >/dev/null 2>&1
}

# pg_require: ends the test with a TAP skip when PostgreSQL is missing,
# except in CI (CI=true), which installs it from .ci/packages-test: there a
# missing PostgreSQL is a failure, never a silent skip.
pg_require() {
    pg_available && return 0
    if [ "${CI:-}" = true ]; then
        echo "Bail out! postgresql not installed (.ci/packages-test lists it)"
        exit 1
    fi
    echo "1..0 # SKIP postgresql not installed"
    exit 0
}

# pg_as COMMAND...: runs a command as the cluster's owner.
pg_as() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# pg_init: initdb in $T_WORK/pg, configuration, port, start; t_cleanup
# stops it. Sets PG_PORT and PG_PARAMS (the DBDParams of the module's
# role).
pg_init() {
    PG_DIR=$T_WORK/pg
    PG_DATA=$PG_DIR/data
    PG_SOCK=$PG_DIR/run
    PG_LOG=$PG_DIR/server.log
    T_CLEANUP+=(pg_stop)
    mkdir -p "$PG_DIR" "$PG_SOCK"
    if [ "$(id -u)" -eq 0 ]; then
        PG_OWNER=postgres
        chown postgres "$PG_DIR" "$PG_SOCK"
    fi
    chmod 700 "$PG_SOCK"
    pg_as test -w "$PG_DIR" || {
        echo "# $PG_DIR is out of reach of user ${PG_OWNER:-$(id -un)} (TMPDIR?)"
        return 1
    }
    PG_PORT=${PG_PORT_FIXED:-$(free_port)}
    PG_PARAMS="host=127.0.0.1 port=$PG_PORT dbname=$PG_DB user=$PG_USER password=$PG_PASSWORD connect_timeout=2"
    # The superuser: trust on the socket only (a 0700 directory);
    # everything over TCP needs a password.
    pg_as "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --no-locale \
        --auth-local=trust --auth-host=scram-sha-256 \
        >"$PG_DIR/initdb.log" 2>&1 || {
        echo "# initdb failed:"; sed 's/^/#   /' "$PG_DIR/initdb.log"
        return 1
    }
    pg_as sh -c "cat >>'$PG_DATA/postgresql.conf'" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
CONF
    pg_start || return 1
    pg_su -c "CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD'" \
        && pg_su -c "CREATE DATABASE $PG_DB OWNER $PG_USER" || {
        echo "# cannot create the role and database"
        return 1
    }
}

# pg_start / pg_stop: the server, on the same port each time. pg_stop
# uses the fast mode: open connections are cut, as in a database outage.
pg_start() {
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 30 start \
        >"$PG_DIR/pg_ctl.out" 2>&1 || {
        echo "# postgresql did not start:"
        sed 's/^/#   /' "$PG_DIR/pg_ctl.out" "$PG_LOG" 2>/dev/null | tail -20
        return 1
    }
}

pg_stop() {
    [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ] || return 0
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop \
        >"$PG_DIR/pg_ctl.out" 2>&1
}

# pg_su PSQL-ARGS...: psql as the superuser, over the socket.
pg_su() {
    pg_as "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" \
        -U postgres -d postgres "$@"
}

# pg_sql SQL: the answer, unaligned, as the module's role over TCP
# ("db-error" when the query fails).
pg_sql() {
    PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=2 "$PG_BIN/psql" -X -q -A -t \
        -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" \
        -c "$1" 2>/dev/null || echo "db-error"
}

