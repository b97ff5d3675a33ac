#!/bin/bash
# Licensed under the Apache License, Version 2.0 (see LICENSE).
# radiusd.sh DIR PORT REVOCATION PKI: writes DIR/radiusd.conf, a minimal
# FreeRADIUS (Debian's freeradius) doing EAP-TLS on 127.0.0.1:PORT for the
# client 127.0.0.1 (secret testing123), trusting DIR/ca.pem. REVOCATION is
# "crl" (DIR/ca.pem holds the CRL too) or an OCSP responder's URL.
set -eu
dir=$1 port=$2 mode=$3 pki=$4
mkdir -p "$dir/log" "$dir/run" "$dir/certs"
echo '$INCLUDE /usr/share/freeradius/dictionary' >"$dir/dictionary"
if [ "$mode" = crl ]; then
  rev="check_crl = yes"
else
  rev="ocsp {
        enable = yes
        override_cert_url = yes
        url = \"$mode\"
        use_nonce = yes
        timeout = 5
        softfail = no
      }"
fi
cat >"$dir/radiusd.conf" <<CONF
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = $dir
sbindir = /usr/sbin
logdir = $dir/log
raddbdir = $dir
radacctdir = $dir/log
name = radiusd
confdir = $dir
modconfdir = $dir
certdir = $dir/certs
cadir = $dir/certs
run_dir = $dir/run
db_dir = $dir
libdir = /usr/lib/freeradius
pidfile = $dir/run/radiusd.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 1024
hostname_lookups = no
log {
  destination = stdout
  auth = yes
}
security {
  allow_core_dumps = no
  max_attributes = 200
  reject_delay = 0
  status_server = no
}
thread pool {
  start_servers = 2
  max_servers = 4
  min_spare_servers = 1
  max_spare_servers = 3
  max_requests_per_server = 0
}
client localhost {
  ipaddr = 127.0.0.1
  secret = testing123
}
modules {
  eap {
    default_eap_type = tls
    timer_expire = 60
    ignore_unknown_eap_types = no
    max_sessions = 64
    tls-config tls-common {
      private_key_file = $pki/server.key
      certificate_file = $pki/server.pem
      ca_file = $dir/ca.pem
      ca_path = $dir/certs
      cipher_list = "DEFAULT"
      tls_min_version = "1.2"
      tls_max_version = "1.2"
      $rev
    }
    tls {
      tls = tls-common
    }
  }
}
server default {
  listen {
    type = auth
    ipaddr = 127.0.0.1
    port = $port
  }
  authorize {
    eap {
      ok = return
    }
  }
  authenticate {
    eap
  }
  post-auth {
  }
}
CONF
