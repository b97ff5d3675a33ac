#!/bin/bash
# The Debian package and an admin's first hour with it (README, "Quick
# start on Debian"): `make deb`, then, in a throwaway Debian 12 root
# (debootstrap --variant=minbase bookworm, with this machine's apt
# sources) where apache2 already serves an intranet, the quick start
# followed literally: apt install the .deb, a2enmod ssl ota_enroll,
# a2ensite default-ssl, ota-enroll init, the Include line, htpasswd, a
# graceful restart. Phase 1 must then answer over HTTPS, signed, after
# Basic auth; `apache2ctl -t` say only "Syntax OK"; the error log hold no
# warning. Then the package is removed and purged, and the server goes on.
#
# Needs root (debootstrap, chroot, mount) and Debian's archive; skips
# otherwise. The root has proc, sys and a private dev mounted, a
# policy-rc.d that keeps services from starting, apache2 on free
# loopback ports; it is unmounted and removed afterwards (KEEP=1 keeps
# it, unmounted). The debootstrap tarball is kept in build/debootstrap/
# for the next run.

t_top=$(cd "$(dirname "$0")/.." && pwd)
SUITE=bookworm
# a stock Debian 12 web server: apache2 and the snakeoil certificate
INCLUDE=apache2,ssl-cert
CACHE=$t_top/build/debootstrap
TARBALL=$CACHE/$SUITE-minbase-apache2.tgz

skip_all() { echo "1..0 # SKIP $*"; exit 0; }

[ "$(id -u)" -eq 0 ] || skip_all "needs root (debootstrap, chroot, mount)"
for tool in debootstrap dpkg-buildpackage dh_apache2 lintian fakeroot curl \
            chroot mount openssl flock; do
    command -v "$tool" >/dev/null \
        || skip_all "$tool is not installed (.ci/packages-test lists it)"
done

# One run at a time per checkout: they share build/deb and the tarball.
mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
flock -w 900 9 || skip_all "another t/98-deb.t run holds $CACHE/lock"

# The first archive this machine's apt sources name for the suite.
host_mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] && sed -E 's/\[[^]]*\]//' "$f" \
            | awk -v s="$SUITE" '$1 == "deb" && $3 == s { print $2; exit }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && awk -v s="$SUITE" 'BEGIN { RS = "" }
            $0 ~ ("Suites:[^\n]*[ \t]" s "([ \t\n]|$)") \
            && $0 ~ /Types:[^\n]*[ \t]deb([ \t\n]|$)/ \
            && match($0, /URIs:[ \t]*[^ \t\n]+/) {
                u = substr($0, RSTART, RLENGTH); sub(/URIs:[ \t]*/, "", u)
                print u; exit
            }' "$f"
    done
}
MIRROR=${DEB_MIRROR:-$(host_mirror | head -n 1)}     # DEB_MIRROR: another one
[ -n "$MIRROR" ] || skip_all "no apt source for $SUITE on this machine"
curl -sfI --max-time 20 -o /dev/null "$MIRROR/dists/$SUITE/Release" \
    || skip_all "the archive $MIRROR cannot be reached"

# The debootstrap tarball, made once (again after 30 days: the archive
# moves on).
find "$TARBALL" -mtime +30 -delete 2>/dev/null
if [ ! -s "$TARBALL" ]; then
    rm -rf "$CACHE/work"
    if ! debootstrap --variant=minbase --include=$INCLUDE \
            --make-tarball="$TARBALL.tmp" "$SUITE" "$CACHE/work" "$MIRROR" \
            >"$CACHE/make-tarball.log" 2>&1; then
        rm -rf "$TARBALL.tmp" "$CACHE/work"
        skip_all "debootstrap cannot fetch $SUITE from $MIRROR" \
                 "(build/debootstrap/make-tarball.log)"
    fi
    mv "$TARBALL.tmp" "$TARBALL"
fi

. "$t_top/t/lib.sh"
t_setup ota-deb

ROOT=
# in_root COMMAND...: runs in the Debian root with a clean environment,
# the lock's descriptor closed (apache2 would hold the lock otherwise)
in_root() {
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
        TERM=dumb DEBIAN_FRONTEND=noninteractive APACHE_STARTED_BY_SYSTEMD=1 \
        chroot "$ROOT" "$@" 9>&-
}

# Stops the root's apache2, unmounts everything under the root (deepest
# first) and removes it, never crossing into another file system.
deb_teardown() {
    local pid m left
    [ -n "$ROOT" ] && [ -d "$ROOT" ] || return 0
    pid=$(cat "$ROOT/run/apache2/apache2.pid" 2>/dev/null)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        in_root apache2ctl stop >/dev/null 2>&1
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
    fi
    for m in $(awk -v r="$ROOT" 'index($2, r "/") == 1 { print $2 }' \
               /proc/mounts | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m"
    done
    left=$(awk -v r="$ROOT" 'index($2, r "/") == 1' /proc/mounts)
    if [ -n "$left" ]; then
        echo "# $ROOT still has mounts, not removed: $left"
        return 1
    fi
    if [ -n "${KEEP:-}" ]; then
        echo "# Debian root kept (unmounted): $ROOT"
        return 0
    fi
    rm -rf --one-file-system "$ROOT"
}
T_CLEANUP+=(deb_teardown)

# A private /dev: a tmpfs with the usual nodes, devpts and shm.
mount_dev() {
    local d=$ROOT/dev
    mount -t tmpfs -o mode=755,size=8m,nosuid devtmp "$d" || return 1
    mknod -m 666 "$d/null" c 1 3 && mknod -m 666 "$d/zero" c 1 5 \
        && mknod -m 666 "$d/full" c 1 7 && mknod -m 666 "$d/random" c 1 8 \
        && mknod -m 666 "$d/urandom" c 1 9 && mknod -m 666 "$d/tty" c 5 0 \
        || return 1
    mkdir -p "$d/pts" "$d/shm"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$d/pts" \
        && ln -s pts/ptmx "$d/ptmx"
    mount -t tmpfs -o mode=1777,size=16m,nosuid,nodev shm "$d/shm"
    ln -s /proc/self/fd "$d/fd"
    ln -s /proc/self/fd/0 "$d/stdin"
    ln -s /proc/self/fd/1 "$d/stdout"
    ln -s /proc/self/fd/2 "$d/stderr"
}

# This machine's apt sources, hosts and apt options in the root.
copy_apt_setup() {
    local f
    rm -f "$ROOT/etc/apt/sources.list" "$ROOT"/etc/apt/sources.list.d/*
    [ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$ROOT/etc/apt/"
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && cp "$f" "$ROOT/etc/apt/sources.list.d/"
    done
    apt-config dump | grep -E '^Acquire::(Check-Valid-Until|Check-Date|https?::Proxy) ' \
        >"$ROOT/etc/apt/apt.conf.d/99host-options"
    rm -f "$ROOT/etc/hosts" "$ROOT/etc/resolv.conf"
    cp -L /etc/hosts "$ROOT/etc/hosts"
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
    printf '#!/bin/sh\n# no service starts in this root\nexit 101\n' \
        >"$ROOT/usr/sbin/policy-rc.d"
    chmod 755 "$ROOT/usr/sbin/policy-rc.d"
}

# ---- the package ----
started=$(date +%s)
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$t_top" --no-print-directory deb \
    >"$T_WORK/make-deb.log" 2>&1
rc=$?
ok $rc "make deb builds the package, lintian without errors"
[ $rc -eq 0 ] || tail -20 "$T_WORK/make-deb.log" | sed 's/^/#   /'
deb=$(ls "$t_top"/build/deb/libapache2-mod-ota-enroll_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -n 1)
[ -n "$deb" ]
ok $? "build/deb/libapache2-mod-ota-enroll_VERSION_ARCH.deb"
echo "# lintian: $(grep -cE '^[EW]: ' "$t_top/build/deb/lintian.txt" 2>/dev/null) errors or warnings"
grep -E '^[EWI]: ' "$t_top/build/deb/lintian.txt" 2>/dev/null | sed 's/^/#   /'
[ -n "$deb" ] || { done_testing; exit 1; }

# ---- a Debian 12 web server ----
ROOT=$(mktemp -d "${TMPDIR:-/tmp}/ota-deb-root.XXXXXX")
chmod 755 "$ROOT"   # its /: www-data must get through
debootstrap --variant=minbase --include=$INCLUDE --unpack-tarball="$TARBALL" \
    "$SUITE" "$ROOT" "$MIRROR" >"$T_WORK/debootstrap.log" 2>&1
rc=$?
ok $rc "debootstrap: a minimal $SUITE with apache2 ($(($(date +%s) - started)) s so far)"
[ $rc -eq 0 ] || { tail -20 "$T_WORK/debootstrap.log" | sed 's/^/#   /'; done_testing; exit 1; }
copy_apt_setup
mount -t proc proc "$ROOT/proc" && mount -t sysfs -o ro sysfs "$ROOT/sys" && mount_dev
ok $? "proc, sys and dev mounted, policy-rc.d in place"

# The intranet it already serves: its own name and loopback ports.
http_port=$(free_port)
https_port=$(free_port)
while [ "$https_port" = "$http_port" ]; do https_port=$(free_port); done
name=$(openssl x509 -in "$ROOT/etc/ssl/certs/ssl-cert-snakeoil.pem" -noout -subject \
       | sed -n 's/.*CN *= *\([^,/]*\).*/\1/p')
[ -n "$name" ] || name=localhost
sed -i -e "s/^Listen 80\$/Listen 127.0.0.1:$http_port/" \
       -e "s/^\([[:space:]]*\)Listen 443\$/\1Listen 127.0.0.1:$https_port/" \
       "$ROOT/etc/apache2/ports.conf"
sed -i "s/<VirtualHost \([^:>]*\):80>/<VirtualHost \1:$http_port>/" \
    "$ROOT/etc/apache2/sites-available/000-default.conf"
sed -i "s/<VirtualHost \([^:>]*\):443>/<VirtualHost \1:$https_port>/" \
    "$ROOT/etc/apache2/sites-available/default-ssl.conf"
echo "ServerName $name" >"$ROOT/etc/apache2/conf-available/servername.conf"
in_root a2enconf -q servername >/dev/null
in_root apache2ctl start >"$T_WORK/start.out" 2>&1
ok $? "apache2 serves the intranet on 127.0.0.1:$http_port"
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$http_port/" && break
    sleep 0.1
done

# ---- the quick start ----
cp "$deb" "$ROOT/root/"
in_root apt-get update >"$T_WORK/apt-update.log" 2>&1
ok $? "apt-get update with this machine's sources"
in_root sh -c "cd /root && apt-get install -y ./$(basename "$deb")" \
    >"$T_WORK/apt-install.log" 2>&1
rc=$?
ok $rc "apt install ./$(basename "$deb")"
[ $rc -eq 0 ] || tail -20 "$T_WORK/apt-install.log" | sed 's/^/#   /'
[ -e "$ROOT/etc/apache2/mods-enabled/ota_enroll.load" ] \
    && [ -e "$ROOT/etc/apache2/mods-enabled/dbd.load" ]
ok $? "installing enabled the module and mod_dbd (# Depends: dbd)"
is "$(stat -c '%U:%G %a' "$ROOT/var/lib/ota-enroll" 2>/dev/null)" "www-data:www-data 750" \
    "/var/lib/ota-enroll belongs to www-data"
[ -s "$ROOT/usr/lib/apache2/modules/ota_enroll-apple-device-ca.pem" ]
ok $? "Apple's device CA chain is where OTAEnrollDeviceCA's default looks"
check "ota-enroll and ota-device have man pages" \
    test -s "$ROOT/usr/share/man/man8/ota-enroll.8.gz" -a -s "$ROOT/usr/share/man/man1/ota-device.1.gz"

out=$(in_root a2enmod ssl ota_enroll 2>&1)
ok $? "a2enmod ssl ota_enroll"
out=$(in_root a2ensite default-ssl 2>&1)
ok $? "a2ensite default-ssl"
out=$(in_root ota-enroll init --url "https://$name:$https_port" --organization "Example Inc." 2>&1)
ok $? "ota-enroll init"
has "$out" "Include /etc/apache2/ota-enroll/site.conf" "init prints the Include line to add"
is "$(stat -c '%a' "$ROOT/etc/apache2/ota-enroll/ca.key" 2>/dev/null)" 600 \
    "the CA key is readable by root only"
sed -i 's|^\([[:space:]]*\)</VirtualHost>|\1\tInclude /etc/apache2/ota-enroll/site.conf\n&|' \
    "$ROOT/etc/apache2/sites-available/default-ssl.conf"
in_root htpasswd -b /etc/apache2/ota-enroll/users alice wonderland >/dev/null 2>&1
ok $? "htpasswd adds a user"
out=$(in_root apache2ctl -t 2>&1)
is "$out" "Syntax OK" "apache2ctl -t prints nothing but Syntax OK"
in_root apache2ctl graceful >"$T_WORK/graceful.out" 2>&1
ok $? "apache2ctl graceful"

# ---- what the admin then sees ----
base=https://$name:$https_port
tls=(--resolve "$name:$https_port:127.0.0.1" --cacert "$ROOT/etc/ssl/certs/ssl-cert-snakeoil.pem"
     --max-time 20)
for _ in $(seq 1 100); do
    curl -s "${tls[@]}" -o /dev/null "$base/" && break
    sleep 0.1
done
curl -sS "${tls[@]}" -o /dev/null "$base/" 2>&1 | sed 's/^/# curl: /'
is "$(curl -s "${tls[@]}" -o /dev/null -w '%{http_code}' "$base/ota/profile")" 401 \
    "phase 1 asks for credentials"
got=$(curl -s "${tls[@]}" -u alice:wonderland -o "$T_WORK/phase1.der" \
      -w '%{http_code} %{content_type}' "$base/ota/profile")
is "$got" "200 application/x-apple-aspen-config" "phase 1 answers over HTTPS after Basic auth"
p1=$(openssl cms -verify -inform DER -in "$T_WORK/phase1.der" -purpose any \
     -CAfile "$ROOT/etc/apache2/ota-enroll/signing-chain.pem" 2>/dev/null)
has "$p1" "<string>Profile Service</string>" "a Profile Service payload, signed by init's identity"
has "$p1" "$base/ota/enroll" "that sends the device to /ota/enroll on this host"
is "$(curl -s "${tls[@]}" -o /dev/null -w '%{http_code}' "$base/ota/status")" 401 \
    "the status page asks for credentials"
is "$(curl -s --max-time 20 -o /dev/null -w '%{http_code}' \
      "http://127.0.0.1:$http_port/ota/profile")" 404 "nothing is served over plain HTTP"
has "$(cat "$ROOT/var/log/apache2/ota-enroll.log" 2>/dev/null)" "phase=1" \
    "phase 1 is in /var/log/apache2/ota-enroll.log"
T_LOG=$ROOT/var/log/apache2/error.log
log_clean

# ---- remove, then purge ----
in_root apt-get remove -y libapache2-mod-ota-enroll >"$T_WORK/apt-remove.log" 2>&1
ok $? "apt-get remove"
[ ! -e "$ROOT/etc/apache2/mods-enabled/ota_enroll.load" ]
ok $? "removing disabled the module"
is "$(in_root apache2ctl -t 2>&1)" "Syntax OK" \
    "the vhost still including site.conf stays valid"
sed -i '/Include \/etc\/apache2\/ota-enroll\/site.conf/d' \
    "$ROOT/etc/apache2/sites-available/default-ssl.conf"
in_root apt-get purge -y libapache2-mod-ota-enroll >"$T_WORK/apt-purge.log" 2>&1
ok $? "apt-get purge"
status=$(in_root dpkg-query -W -f='${Status}' libapache2-mod-ota-enroll 2>/dev/null)
case "$status" in
    ""|*" not-installed") ok 0 "dpkg keeps nothing of the package" ;;
    *) ok 1 "dpkg keeps nothing of the package"; echo "#   status: $status" ;;
esac
left=$(cd "$ROOT/etc/apache2" && ls -d mods-*/ota_enroll* 2>/dev/null)
is "$left" "" "no mods-available or mods-enabled file left"
is "$(ls "$ROOT/etc/apache2/ota-enroll" 2>/dev/null | tr '\n' ' ')" \
    "admins ca.key ca.pem final.mobileconfig settings.conf signing-chain.pem signing.key users " \
    "only the files ota-enroll init made are left in /etc/apache2/ota-enroll"
[ ! -e "$ROOT/var/lib/ota-enroll" ]
ok $? "the state directory is gone"
is "$(in_root apache2ctl -t 2>&1)" "Syntax OK" "apache2ctl -t: Syntax OK after the purge"
in_root apache2ctl graceful >/dev/null 2>&1
sleep 1
is "$(curl -s "${tls[@]}" -o /dev/null -w '%{http_code}' "$base/")" 200 \
    "the intranet is still served"
log_clean
echo "# $(($(date +%s) - started)) s"
done_testing
