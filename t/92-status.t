#!/bin/bash
# The admin view (ota-status): a device enrolled through every phase with
# its certificate, devices inserted straight into the registry (hostile
# strings among them), refusals counted across processes and over a
# graceful restart; HTML with curl and in a real browser (headless
# Chromium), JSON with jq, keyset pagination (next links carrying a
# cursor), filters, rows per table, 405/400, and nothing secret on the
# page. The same statements on PostgreSQL when it is here.
. "$(dirname "$0")/lib.sh"
t_setup
pg_optional

ARTIFACTS=$T_BUILD/artifacts
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
profile=$T_TOP/t/fixtures/profiles/configuration.mobileconfig
D1=6A1B2C3D-0000-4000-8000-00000000D001
HOSTILE_PRODUCT='<script>alert(1)</script>'
HOSTILE_USER='q"uo\te'

# prefork with one connection per child: every request is served by a
# process of its own, so the refusal counts can only add up if the
# children share them. A GetCACaps list (the built-in CA's defaults)
# keeps the refresher threads, and their requests, out of the way.
T_MPM=mpm_prefork
T_PORT_FIXED=$(free_port)
base=http://127.0.0.1:$T_PORT_FIXED
apache_start status "
StartServers 3
MinSpareServers 2
MaxConnectionsPerChild 1
CustomLog \"$T_WORK/status/pid.log\" \"%P %>s %m %U\"
$(site_locations status=on final="$profile" \
    enroll_extra="OTAEnrollGetCACaps AES POSTPKIOperation SHA-256 SHA-512 Renewal SCEPStandard")
"
ok $? "apache2 starts with an ota-status location"

# ---- one device through every phase, and a few refusals ----
"$OTA_DEVICE" enroll --url "$base/ota/profile" --user alice:secret \
    --trust "$PKI/signing-root.pem" --identity "$PKI/device.pem" --key "$PKI/device.key" \
    --chain "$PKI/device-ca-chain.pem" --emulate current --timeout 5 \
    --save-dir "$T_WORK/d1" >"$T_WORK/d1.out" 2>&1
ok $? "the emulated device enrolls through phases 1, 2, SCEP and 3"
serial1=$(openssl x509 -in "$T_WORK/d1/device-cert.pem" -noout -serial | sed 's/serial=//')
expires1=$(date -u -d "$(openssl x509 -in "$T_WORK/d1/device-cert.pem" -noout -enddate \
    | sed 's/notAfter=//')" '+%Y-%m-%d %H:%M:%S UTC')
is "$(db_count "select phase from ota_device where udid = '$D1'")" 4 "it is enrolled (phase 4)"

for i in 1 2 3; do
    curl -s -o /dev/null -w '%{http_code}\n' --data-binary "garbage $i" "$base/ota/enroll"
done >"$T_WORK/garbage.codes"
is "$(sort -u "$T_WORK/garbage.codes")" 400 "three garbage posts: 400"
is "$(grep -c ' 400 POST /ota/enroll' "$T_WORK/status/pid.log" | tr -d ' ')" 3 "logged"
is "$(grep ' 400 POST /ota/enroll' "$T_WORK/status/pid.log" | cut -d' ' -f1 | sort -u | wc -l)" 3 \
   "each served by another process"
is "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/pkcs7-signature' \
        --data-binary "@$T_WORK/d1/phase2-request.der" "$base/ota/enroll")" 403 \
   "the device's phase 2 replayed: 403"
is "$(log_count OTA00039)" 1 "OTA00039 (challenge already used)"

# ---- the registry: 62 plain devices, a hostile one, an external CA's ----
now=$(date +%s)
sqlite3 "$T_DB" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 62)
INSERT INTO ota_device (udid, serial, product, version, username, phase,
                        first_seen, last_seen, phase2_at)
SELECT printf('00000000-0000-4000-8000-%012d', i), printf('SN%05d', i),
       'iPhone15,2', '17.1', 'bob', 2, $now - 5000, $now - 1000 - i, $now - 5000
FROM n;
INSERT INTO ota_device (udid, serial, product, version, username, phase,
                        first_seen, last_seen)
VALUES ('HOSTILE-1', 'SN"<b>', '$HOSTILE_PRODUCT', '<img src=x onerror=alert(2)>',
        '$HOSTILE_USER', 2, $now - 100, $now - 100);
INSERT INTO ota_device (udid, serial, product, version, username, phase,
                        first_seen, last_seen, cert_serial, enrolled_at)
VALUES ('EXTERNAL-1', 'SNEXT', 'iPad7,1', '16.7', 'carol', 4, $now - 200,
        $now - 200, '0EC0FFEE', $now - 200);
SQL
ok $? "65 devices in the registry"

get() {   # get QUERY [CURL-ARGS]: the page body into $T_WORK/body, code out
    curl -s -u alice:secret -D "$T_WORK/headers" -o "$T_WORK/body" -w '%{http_code}' \
        "${@:2}" "$base/ota/status$1"
}
rows() {
    grep -c '<tr class="device">' "$T_WORK/body"
}
next_link() {   # the next page's link on the page read last, unescaped
    sed -n 's/.*<a rel="next" href="\([^"]*\)".*/\1/p' "$T_WORK/body" | sed 's/&amp;/\&/g'
}

# ---- HTML ----
is "$(curl -s -o /dev/null -w '%{http_code}' "$base/ota/status")" 401 "Apache auth protects it"
is "$(curl -s -o /dev/null -w '%{http_code}' -u bob:secret "$base/ota/status")" 401 "bob is not admitted"
is "$(get "")" 200 "alice gets the page"
html=$(cat "$T_WORK/body")
like "$(tr -d '\r' <"$T_WORK/headers")" '^Content-Type: text/html; charset=utf-8$' "text/html; charset=utf-8"
like "$(tr -d '\r' <"$T_WORK/headers")" "^Content-Security-Policy: default-src 'none'" "with a CSP"
is "$(rows)" 50 "page 1: 50 devices"
has "$html" "<tr class=\"device\"><td class=\"mono udid\">$D1</td>" "the enrolled device's row"
d1row=$(grep "udid\">$D1<" "$T_WORK/body")
has "$d1row" '<td class="product">iPhone15,2</td>' "its product"
has "$d1row" '<td>alice</td>' "its user"
has "$d1row" '<td class="phase">4 enrolled</td>' "its phase"
has "$d1row" "<td class=\"mono\">$serial1</td><td>$expires1</td>" \
    "its certificate serial and expiry ($expires1)"
has "$(grep 'udid">EXTERNAL-1<' "$T_WORK/body")" \
    '<td class="mono">0EC0FFEE</td><td class="muted">unknown (not issued here)</td>' \
    "an external CA's certificate: serial, expiry unknown"
has "$html" '<tr data-phase="2"><td>2 attributes accepted</td><td class="num">63</td></tr>' \
    "counts: 63 in phase 2"
has "$html" '<tr data-phase="4"><td>4 enrolled</td><td class="num">2</td></tr>' "2 enrolled"
has "$html" '<th class="num">65</th>' "65 in all"
has "$html" '<tr data-id="OTA00023"><td class="mono">OTA00023</td><td>not CMS</td><td class="num">3</td>' \
    "rejections: OTA00023 counted 3 times, across processes"
has "$html" '<tr data-id="OTA00039"><td class="mono">OTA00039</td><td>challenge already used</td><td class="num">1</td>' \
    "rejections: OTA00039 once"
has "$html" 'each server behind a load balancer counts its own' "the page says the counts are per server"
has "$html" '&lt;script&gt;alert(1)&lt;/script&gt;' "the hostile product is shown as text"
has "$html" 'q&quot;uo\te' "the hostile user too"
unlike "$html" '<script|<img|<b>' "no markup from the registry"
like "$html" '<a rel="next" href="\?after=[0-9]+%3A[0-9A-F-]+">' "a link to the next page, its cursor in it"
is "$(get "$(next_link)")" 200 "page 2"
is "$(rows)" 15 "page 2: the other 15"
has "$(cat "$T_WORK/body")" '<a rel="first" href="?">' "a link back"
unlike "$(cat "$T_WORK/body")" 'rel="next"' "and none further"
has "$html" '<tr data-table="ota_device"><td class="mono">ota_device</td><td class="num">65</td></tr>' \
    "rows per table: 65 devices"
get "?q=$D1" >/dev/null
is "$(rows)" 1 "filter on a UDID"
get "?q=sn0000" >/dev/null
is "$(rows)" 9 "filter on serials (case-insensitive)"
get "?q=ALICE" >/dev/null
is "$(rows)" 1 "filter on the user"
get "?q=%25%25%25" >/dev/null
is "$(rows)" 0 "'%' is a plain character, not a wildcard"
get "?phase=4" >/dev/null
is "$(rows)" 2 "filter on the phase"
get "?phase=2&q=iphone" >/dev/null
like "$(next_link)" '^\?after=[0-9]+&q=iphone&phase=2$' "the next link keeps the filters"
get "$(next_link)" >/dev/null
is "$(rows)" 12 "both filters, second page"
has "$(cat "$T_WORK/body")" '<a rel="first" href="?q=iphone&amp;phase=2">' \
    "links keep the filters"
is "$(get "" -I)" 200 "HEAD"
is "$(get "" -X PUT -d x)" 405 "PUT: 405"
allow=$(tr -d '\r' <"$T_WORK/headers" | grep '^Allow:')
like "$allow" '^Allow: ([A-Z]+, ?)*GET(,|$)' "Allow has GET ($allow)"
like "$allow" 'POST' "and POST (the actions)"
is "$(log_count OTA00090)" 1 "OTA00090 logged"
is "$(get "" -X POST -d x)" 403 "a POST that is neither JSON nor a form with the page's token: 403"
is "$(log_count OTA00111)" 1 "OTA00111 logged"
is "$(get "?page=abc")" 400 "a bad page number: 400"
is "$(log_count OTA00091)" 1 "OTA00091 logged"

# Nothing secret: no challenge digest (phase 1 and SCEP), no key, no PEM.
secrets=$(db_count "select digest from ota_challenge union select digest from ota_scep_challenge")
[ -n "$secrets" ] && [ "$secrets" != db-error ]
ok $? "the registry holds challenge digests to look for"
get "" >/dev/null
cp "$T_WORK/body" "$T_WORK/page.html"
get "?format=json" >/dev/null
cp "$T_WORK/body" "$T_WORK/page.json"
leak=0
for d in $secrets; do
    grep -qiF "$d" "$T_WORK/page.html" "$T_WORK/page.json" && leak=1
done
is "$leak" 0 "no challenge digest on the page (HTML or JSON)"
! grep -qE 'PRIVATE KEY|BEGIN CERTIFICATE' "$T_WORK/page.html" "$T_WORK/page.json"
ok $? "no key or certificate material"

# Every warn id in the README has a short reason on the page.
missing=
for id in $(sed -nE 's/^\| OTA([0-9]{5}) \| warn \|.*/\1/p' "$T_TOP/README.md"); do
    grep -qE "^    \{ $((10#$id)), \"" "$T_TOP/ota_status.c" || missing="$missing OTA$id"
done
is "$missing" "" "every warn id in the README has its reason in ota_status.c"

# ---- JSON ----
jqt() {   # jqt [--argjson NAME VALUE] FILTER NAME: jq -e on the JSON page
    local args=()
    [ "$1" = --argjson ] && { args=(--argjson "$2" "$3"); shift 3; }
    jq -e --arg d1 "$D1" --arg serial "$serial1" "${args[@]}" "$1" "$T_WORK/page.json" >/dev/null 2>&1
    ok $? "$2"
}
like "$(tr -d '\r' <"$T_WORK/headers")" '^Content-Type: application/json$' "JSON: application/json"
jqt '.devices | length == 50' "JSON: 50 devices on page 1"
jqt '.page.size == 50 and .page.devices == 65 and .page.after == null
     and (.page.next | test("^/ota/status\\?format=json&after=[0-9]+%3A"))' "JSON: page info, the next page's URL"
jqt '.counts == {by_phase: {"2": 63, "3": 0, "4": 2}, total: 65, capped: false}' "JSON: counts by phase"
jqt --argjson c "$(db_count 'select count(*) from ota_challenge')" \
    '.tables.ota_device == 65 and .tables.ota_certificate == 1 and .tables.ota_challenge == $c' \
    "JSON: rows per table"
jqt '.devices[] | select(.udid == $d1) | .phase == 4 and .user == "alice"
     and .certificate_serial == $serial and (.certificate_expires | test("^[0-9-]+T[0-9:]+Z$"))
     and .product == "iPhone15,2" and .certificate_revoked == null' \
    "JSON: the enrolled device with its certificate"
jqt '.devices[] | select(.udid == "EXTERNAL-1") | .certificate_serial == "0EC0FFEE"
     and .certificate_expires == null' "JSON: the external CA's certificate, expiry null"
jqt '.devices[] | select(.udid == "HOSTILE-1") | .product == "<script>alert(1)</script>"
     and .user == "q\"uo\\te" and .serial == "SN\"<b>"' \
    "JSON: hostile strings survive the round trip exactly"
! grep -qE '<script|<img' "$T_WORK/page.json"
ok $? "JSON: with markup escaped (\\u003c)"
jqt '[.rejections.by_id[] | {key: .id, value: .count}] | from_entries
     | .OTA00023 == 3 and .OTA00039 == 1 and .OTA00090 == 1 and .OTA00091 == 1
       and .OTA00111 == 1' \
    "JSON: rejections by id"
jqt '.rejections.by_id[] | select(.id == "OTA00039") | .reason == "challenge already used"
     and (.last_seen | test("Z$"))' "JSON: with reason and last seen"
jqt '.rejections.server | test("port '"$T_PORT_FIXED"'$")' "JSON: whose counters they are"
get "$(jq -r .page.next "$T_WORK/page.json" | sed 's|^/ota/status||')&q=&phase=" >/dev/null
cp "$T_WORK/body" "$T_WORK/page.json"
jqt '(.devices | length) == 15 and .page.after != null and (.page | has("next") | not)' "JSON: page 2, the last"

# ---- in a browser ----
chromium_run() {   # chromium_run ARGS... URL
    timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$(mktemp -d "$T_WORK/chromium.XXXXXX")" "$@" 2>>"$T_WORK/chromium.log"
}
if [ ! -x "$CHROMIUM" ] && [ "$(id -u)" -ne 0 ]; then
    for name in "Chromium renders the page" "the DOM has the device's row" \
                "the DOM has the phase counts" "the DOM has a rejection row" \
                "no script element came from the registry" "screenshot taken"; do
        skip "chromium not installed" "$name"
    done
else
    url=http://alice:secret@127.0.0.1:$T_PORT_FIXED/ota/status
    chromium_run --dump-dom "$url" >"$T_WORK/dom.html"
    ok $? "Chromium renders the page"
    dom=$(cat "$T_WORK/dom.html")
    has "$dom" "<tr class=\"device\"><td class=\"mono udid\">$D1</td>" "the DOM has the device's row"
    has "$dom" '<tr data-phase="4"><td>4 enrolled</td><td class="num">2</td></tr>' \
        "the DOM has the phase counts"
    has "$dom" '<tr data-id="OTA00023"><td class="mono">OTA00023</td><td>not CMS</td><td class="num">3</td>' \
        "the DOM has a rejection row"
    [ -s "$T_WORK/dom.html" ] && ! grep -qE '<script|<img' "$T_WORK/dom.html"
    ok $? "no script element came from the registry"
    chromium_run --screenshot="$T_WORK/status.png" --window-size=1280,900 "$url" >/dev/null
    [ -s "$T_WORK/status.png" ] && mkdir -p "$ARTIFACTS" && cp "$T_WORK/status.png" "$ARTIFACTS/status.png"
    ok $? "screenshot taken ($ARTIFACTS/status.png)"
fi

# ---- keyset pages: no page numbers, no short searches ----
n91=$(log_count OTA00091)
is "$(get "?page=2")" 400 "?page=N: 400 (a page is reached by its cursor)"
is "$(get "?q=ab")" 400 "a search of 2 characters: 400"
is "$(get "?after=x")" 400 "a cursor that is not one: 400"
is "$(( $(log_count OTA00091) - n91 ))" 3 "each logged as OTA00091"
is "$(get "?page=1")" 200 "?page=1 (the first page) still answers"
get "?format=json&after=$((now - 1030))%3A" >/dev/null
cp "$T_WORK/body" "$T_WORK/page.json"
jqt '(.devices | length) == 32 and .devices[0].udid == "00000000-0000-4000-8000-000000000031"' \
    "a cursor is a key, not a position: the devices seen before it"

# ---- a graceful restart keeps the counts ----
n0=$(log_count 'resuming normal operations')
kill -USR1 "$(cat "$T_WORK/status/httpd.pid")"
for _ in $(seq 1 50); do
    [ "$(log_count 'resuming normal operations')" -gt "$n0" ] && break
    sleep 0.2
done
get "?format=json" >/dev/null
cp "$T_WORK/body" "$T_WORK/page.json"
jqt '[.rejections.by_id[] | {key: .id, value: .count}] | from_entries | .OTA00023 == 3' \
    "a graceful restart keeps the counts"

apache_stop
log_clean OTA00023 OTA00039 OTA00090 OTA00091 OTA00111 AH01631

# ---- the same statements on PostgreSQL ----
pg_part() {
    pg_init || return 1
    T_PORT_FIXED=$(free_port)
    base=http://127.0.0.1:$T_PORT_FIXED
    apache_start status-pg "
$(pg_dbd)
$(site_locations profile=off enroll=off scep=off status=on)
" || return 1
    # the first request creates the schema
    [ "$(get "")" = 200 ] || return 1
    pg_sql "INSERT INTO ota_device (udid, serial, product, version, username, phase,
                first_seen, last_seen, cert_serial)
            SELECT 'PG-' || lpad(i::text, 4, '0'), 'SN' || i, 'iPhone15,2', '17.1',
                CASE WHEN i = 7 THEN 'Eve_100%' ELSE 'bob' END,
                CASE WHEN i <= 3 THEN 4 ELSE 2 END, 1, 1000 + i,
                CASE WHEN i <= 3 THEN 'C' || i END
            FROM generate_series(1, 61) AS i;
            INSERT INTO ota_certificate (serial, transaction_id, udid, subject, issued,
                not_after, revoked, cert)
            VALUES ('C1', 't1', 'PG-0001', 'CN=x', 1, 1900000000, NULL, 'PEM')" >/dev/null
}
if [ -n "$PG_HERE" ]; then
    pg_part
    ok $? "PostgreSQL: a server with DBDriver pgsql and 61 devices"
    get "?format=json" >/dev/null
    cp "$T_WORK/body" "$T_WORK/page.json"
    jqt '(.devices | length) == 50 and .page.devices == 61 and .devices[0].udid == "PG-0061"' \
        "PostgreSQL: page 1, last seen first"
    jqt '.counts == {by_phase: {"2": 58, "3": 0, "4": 3}, total: 61, capped: false}' \
        "PostgreSQL: counts by phase (the tallies the triggers keep)"
    jqt '.tables.ota_device == 61 and .tables.ota_certificate == 1' "PostgreSQL: rows per table"
    get "?format=json&q=pg-000&phase=4" >/dev/null
    cp "$T_WORK/body" "$T_WORK/page.json"
    jqt '[.devices[] | {key: .udid, value: .certificate_expires}] | from_entries
         == {"PG-0003": null, "PG-0002": null, "PG-0001": "2030-03-17T17:46:40Z"}' \
        "PostgreSQL: filters (case-insensitive), certificates LEFT JOINed"
    get "?format=json&q=00%25" >/dev/null
    cp "$T_WORK/body" "$T_WORK/page.json"
    jqt '[.devices[].udid] == ["PG-0007"]' "PostgreSQL: '%' is a plain character"
    get "?format=json&q=_10" >/dev/null
    cp "$T_WORK/body" "$T_WORK/page.json"
    jqt '[.devices[].udid] == ["PG-0007"]' "PostgreSQL: so is '_'"
    get "?format=json" >/dev/null
    get "$(jq -r .page.next "$T_WORK/body" | sed 's|^/ota/status||')" >/dev/null
    cp "$T_WORK/body" "$T_WORK/page.json"
    jqt '(.devices | length) == 11 and .page.after != null and (.page | has("next") | not)' \
        "PostgreSQL: page 2, by its cursor"
    apache_stop
    log_clean
else
    echo "# PostgreSQL not available: its part skipped"
    skip "postgresql not installed"
fi
done_testing
