#!/bin/bash
# What needs no login must not hold the server: a body trickled over a
# real socket is cut at OTAEnrollBodyTimeout (408, OTA00017) while other
# requests are served, also when mod_reqtimeout is the one that gives up;
# and phase 1 without an authenticated user is refused unless the location
# says OTAEnrollAnonymous on.
. "$(dirname "$0")/lib.sh"
t_setup

T_LOAD=reqtimeout apache_start limits "$(site_locations enroll_extra='OTAEnrollBodyTimeout 2')
$(site_locations prefix=/open auth=none scep=off)
$(location /noauth ota-profile-service 'OTAEnrollURL /ota/enroll')
<Location /rt/enroll>
    SetHandler ota-enroll
    OTAEnrollSCEPURL \${SERVER_URL}/ota/scep
    OTAEnrollBodyTimeout 60
</Location>
RequestReadTimeout handshake=0 header=20 body=2"
ok $? "apache2 starts (OTAEnrollBodyTimeout 2; mod_reqtimeout's body=2 elsewhere)"

# trickle PATH SECONDS: a POST announcing 1000 bytes, then one byte a
# second for SECONDS; prints the HTTP status the server answers ("none")
trickle() {
    local path=$1 secs=$2 port=${T_BASE##*:} status writer
    exec 3<>"/dev/tcp/127.0.0.1/$port" || { echo none; return; }
    printf 'POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/pkcs7-signature\r\nContent-Length: 1000\r\n\r\n' \
        "$path" >&3
    (trap '' PIPE; for _ in $(seq 1 "$secs"); do printf 'x' >&3 2>/dev/null || exit 0; sleep 1; done) &
    writer=$!
    status=$(timeout $((secs + 3)) head -1 <&3 | awk '{ print $2 }')
    exec 3<&-
    kill "$writer" 2>/dev/null
    wait "$writer" 2>/dev/null
    echo "${status:-none}"
}

n0=$(log_count OTA00017)
start=$(date +%s)
trickle /ota/enroll 8 >"$T_WORK/slow.status" &
slow=$!
sleep 1
is "$(curl -s -o /dev/null -w '%{http_code}' -u alice:secret "$(t_url /ota/profile)")" 200 \
    "phase 1 is served while a body trickles in"
wait "$slow"
is "$(cat "$T_WORK/slow.status")" 408 "the trickled body gets 408"
[ $(( $(date +%s) - start )) -le 9 ]
ok $? "within the deadline, not after the client gave up"
is "$(( $(log_count OTA00017) - n0 ))" 1 "one OTA00017 line"
like "$(grep OTA00017 "$T_LOG" | tail -1)" 'within OTAEnrollBodyTimeout \(2 s\)' "naming the directive"

n0=$(log_count OTA00017)
is "$(trickle /rt/enroll 6)" 408 "mod_reqtimeout giving up first: 408 too (not a 400 read error)"
is "$(( $(log_count OTA00017) - n0 ))" 1 "with OTA00017"
is "$(log_count OTA00022)" 0 "and no OTA00022"

# ---- phase 1 needs a user ----
n0=$(log_count OTA00044)
is "$(curl -s -o /dev/null -w '%{http_code}' "$(t_url /noauth)")" 403 \
    "phase 1 where Apache authenticates nobody: 403"
is "$(( $(log_count OTA00044) - n0 ))" 1 "OTA00044"
like "$(grep OTA00044 "$T_LOG" | tail -1)" 'OTAEnrollAnonymous on' "the log says how to allow it"
is "$(db_count 'select count(*) from ota_challenge')" 1 "no challenge stored for it (alice's only)"
is "$(curl -s -o /dev/null -w '%{http_code}' "$(t_url /open/profile)")" 200 \
    "with OTAEnrollAnonymous on: 200"

log_clean OTA00017 OTA00044 AH01382
done_testing
