#!/bin/bash
# wrk at 64 connections while the server restarts gracefully 20 times:
# no request fails. Connections are not kept alive: a kept-alive idle
# connection closed by a restart is HTTP's own race (clients retry), not
# a failed request.
. "$(dirname "$0")/lib.sh"

command -v wrk >/dev/null || { echo "1..0 # SKIP wrk not installed"; exit 0; }
t_setup
apache_start graceful "$(site_locations auth=none enroll=off scep=off)"
ok $? "apache2 starts"
wrk -c 64 -t 2 -d 12s --timeout 10s -H 'Connection: close' \
    "$(t_url /ota/profile)" >"$T_WORK/wrk.out" 2>&1 &
wrk_pid=$!
restarts=0
for _ in $(seq 1 20); do
    sleep 0.5
    apache2 -d "$(dirname "$T_CONF")" -f "$T_CONF" -k graceful && restarts=$((restarts + 1))
done
wait $wrk_pid
out=$(cat "$T_WORK/wrk.out")
is "$restarts" 20 "20 graceful restarts during the load"
n=$(printf '%s' "$out" | sed -n 's/^ *\([0-9]*\) requests in.*/\1/p')
[ "${n:-0}" -gt 1000 ]
ok $? "wrk sent ${n:-0} requests"
unlike "$out" 'Socket errors' "no connect, read, write or timeout errors"
unlike "$out" 'Non-2xx' "every answer was 200"
stored=$(db_count 'select count(*) from ota_challenge')
# wrk stops counting at its deadline with up to 64 requests in flight
[ "$stored" -ge "$n" ] && [ "$stored" -le $((n + 64)) ]
ok $? "one challenge stored per request ($stored stored, $n counted)"
apache_stop
log_clean
done_testing
