#!/bin/bash
# The seed's failure: iOS 4 gives up when the CA never answers GetCACaps,
# and succeeds once the capabilities are written into the SCEP payload.
. "$(dirname "$0")/lib.sh"
t_setup

scepserver_start
ok $? "micromdm scepserver runs as the external CA"
T_PORT_FIXED=$(free_port)
ndes=http://127.0.0.1:$T_PORT_FIXED/certsrv/mscep/mscep.dll
# auto's background GetCACaps requests go to a CA of their own, so they
# are never counted as a device's
silent=http://127.0.0.1:$T_PORT_FIXED/silent/mscep/mscep.dll

# One profile/enroll pair per GetCACaps setting.
pair() {   # pair NAME SCEP-URL GETCACAPS-DIRECTIVE-ARGS [EXTRA]
    site_locations prefix="/$1" auth=none scep=off subject= scep_url="$2" \
        enroll_extra="OTAEnrollGetCACaps $3
${4:-}"
}
apache_start seed "$(ndes_like /certsrv/mscep/mscep.dll "$PKI/signing-ca.pem")
$(ndes_like /silent/mscep/mscep.dll "$PKI/signing-ca.pem")
$(pair off "$ndes" off)
$(pair seed "$ndes" 'GETPKIOperation Renewal SHA-1')
$(pair silent "$silent" auto)
$(pair micromdm "$SCEP_URL" auto)
$(pair byua "$ndes" off '<If "%{HTTP_USER_AGENT} =~ /iPhone OS 4_/">
        OTAEnrollGetCACaps GETPKIOperation Renewal SHA-1
    </If>')"
ok $? "apache2 starts"

enroll() {   # enroll NAME OS: runs the emulator, output in $E_OUT, status $E_RC
    E_OUT=$("$OTA_DEVICE" enroll --url "$(t_url "/$1/profile")" --trust "$PKI/signing-root.pem" \
            --identity "$PKI/device.pem" --key "$PKI/device.key" --chain "$PKI/device-ca-chain.pem" \
            --emulate "$2" --timeout 2 --stop-after phase2 \
            --save-dir "$T_WORK/$1-$2" 2>&1)
    E_RC=$?
}
caps_asked() {   # GetCACaps requests that reached the NDES-like location
    grep -c 'GET /certsrv/mscep/mscep.dll?operation=GetCACaps' "$(dirname "$T_CONF")/access.log" || true
}
payload_caps() {   # the GetCACaps array of the last enrollment's payload
    tr -d '\n\t' <"$T_WORK/$1/phase2.plist" | sed -n 's/.*<key>GetCACaps<\/key><array>\(.*\)<\/array>.*/\1/p' \
        | sed 's/<\/string><string>/ /g; s/<[^>]*>//g'
}

# The failure, reproduced: no GetCACaps in the payload, a CA that never answers.
n0=$(caps_asked)
enroll off ios4
is "$E_RC" 4 "iOS 4 with OTAEnrollGetCACaps off fails"
like "$E_OUT" 'A network error has occurred. The network connection was lost' \
    "with the seed's message"
is "$(( $(caps_asked) - n0 ))" 3 "after asking the CA for GetCACaps three times"
unlike "$(cat "$T_WORK/off-ios4/phase2.plist")" 'GetCACaps' "the payload had no GetCACaps"

n0=$(caps_asked)
enroll off ios3
is "$E_RC" 0 "iOS 3 with OTAEnrollGetCACaps off succeeds"
is "$(( $(caps_asked) - n0 ))" 2 "after asking twice and falling back"
like "$E_OUT" 'cipher 3DES, digest SHA-1' "to GET, 3DES and SHA-1"

# The fix: the capabilities written in.
n0=$(caps_asked)
enroll seed ios4
is "$E_RC" 0 "iOS 4 succeeds once GetCACaps is written into the payload"
is "$(( $(caps_asked) - n0 ))" 0 "and never asks the CA"
is "$(payload_caps seed-ios4)" "GETPKIOperation Renewal SHA-1" "the payload carries the seed's array"
enroll seed ios3
is "$E_RC" 0 "iOS 3 succeeds with it too"

# auto, against a CA that never answers: the fallback, logged once.
enroll silent ios4
is "$E_RC" 0 "auto against a silent CA: iOS 4 succeeds"
is "$(payload_caps silent-ios4)" "DES3 SHA-1" "with the fallback DES3, SHA-1"
enroll silent current
is "$E_RC" 0 "a second device too"
# Each server process logs it once; with one process serving both, once.
n=$(log_count OTA00050)
[ "$n" -ge 1 ] && [ "$n" -le 2 ]
ok $? "the fallback is logged once per process ($n lines for 2 enrollments and up to 2 processes)"

# auto, against micromdm's scepserver: its own list.
want=$(curl -s "$SCEP_URL?operation=GetCACaps" | tr -d '\r' | tr '\n' ' ' | sed 's/ $//')
enroll micromdm ios4
is "$E_RC" 0 "auto against scepserver: iOS 4 succeeds"
is "$(payload_caps micromdm-ios4)" "$want" "the payload carries what scepserver answers"
like "$E_OUT" 'GetCACaps: from the payload, not asked' "the device does not ask"

# <If> picks the list by User-Agent: iOS 4 gets it, a current device does not.
enroll byua ios4
is "$E_RC" 0 "<If> on the User-Agent gives iOS 4 the list"
is "$(payload_caps byua-ios4)" "GETPKIOperation Renewal SHA-1" "the <If> list"
enroll byua current
unlike "$(cat "$T_WORK/byua-current/phase2.plist")" 'GetCACaps' \
    "a current device gets the outer setting (off)"

apache_stop
log_clean OTA00050
done_testing
