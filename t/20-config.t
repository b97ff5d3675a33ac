#!/bin/bash
# Configuration: the sample is accepted, every directive is documented, and
# bad values stop `apache2 -t` with a message naming the directive.
. "$(dirname "$0")/lib.sh"
t_setup

config_test() {   # config_test NAME EXTRA: runs apache2 -t, output in $T_OUT
    apache_config "$1" "$2"
    T_OUT=$(apache2 -d "$(dirname "$T_CONF")" -f "$T_CONF" -t 2>&1)
}

# The sample configuration, with its paths pointed at the test PKI.
etc=$T_WORK/etc
mkdir -p "$etc"
cp "$PKI/signing-chain.pem" "$etc/signing-chain.pem"
cp "$PKI/signing.key" "$etc/signing.key"
cp "$PKI/signing-ca.pem" "$etc/ca.pem"
cp "$PKI/signing-ca.key" "$etc/ca.key"
cp "$T_TOP/t/fixtures/profiles/configuration.mobileconfig" "$etc/final.mobileconfig"
cp "$T_WORK/../$(basename "$T_WORK")/users" "$etc/users" 2>/dev/null || true
sed -e "s|/etc/apache2/ota-enroll|$etc|g" \
    -e "s|/var/lib/apache2/ota_enroll|$T_WORK|g" \
    -e "s|/usr/lib/apache2/modules/mod_ota_enroll.so|$T_TOP/mod_ota_enroll.so|" \
    "$T_TOP/ota_enroll.conf" >"$T_WORK/sample.conf"
export APACHE_LOG_DIR=$T_WORK
T_LOAD="proxy proxy_http" T_NO_DBD=1 config_test sample "Include $T_WORK/sample.conf"
is "$T_OUT" "Syntax OK" "apache2 -t accepts ota_enroll.conf"

# Every directive the module registers is in the sample and the README.
directives=$(cat "$T_TOP"/mod_ota_enroll*.c | grep -oE 'AP_INIT_[A-Z0-9]+\("OTAEnroll[A-Za-z]+"' \
             | sed -E 's/.*"(OTAEnroll[A-Za-z]+)"/\1/' | sort -u)
[ "$(echo "$directives" | wc -l)" -ge 20 ]
ok $? "the module registers its directives ($(echo "$directives" | wc -l))"
missing_conf= missing_readme=
for d in $directives; do
    grep -q "$d" "$T_TOP/ota_enroll.conf" || missing_conf="$missing_conf $d"
    grep -q "$d" "$T_TOP/README.md" || missing_readme="$missing_readme $d"
done
is "$missing_conf" "" "every directive appears in ota_enroll.conf"
is "$missing_readme" "" "every directive appears in README.md"

# Every log id the module writes is in README's table.
ids=$(cat "$T_TOP"/mod_ota_enroll*.c | grep -oE 'OTA[0-9]{5}' | sort -u)
[ "$(echo "$ids" | wc -l)" -ge 40 ]
ok $? "the module writes its log ids ($(echo "$ids" | wc -l))"
missing_ids=
for id in $ids; do
    grep -q "^| $id |" "$T_TOP/README.md" || missing_ids="$missing_ids $id"
done
is "$missing_ids" "" "every log id is in README.md's table"

# A missing signing key file names the directive.
config_test nokey "OTAEnrollSigningKey $T_WORK/no-such.key"
[ -n "$T_OUT" ] && ! printf '%s' "$T_OUT" | grep -q 'Syntax OK'
ok $? "a missing signing key file fails apache2 -t"
like "$T_OUT" 'OTAEnrollSigningKey: cannot read .*no-such.key' \
    "the error names OTAEnrollSigningKey and the file"

config_test wrongkey "OTAEnrollSigningKey $PKI/device.key"
like "$T_OUT" 'OTAEnrollSigningKey: the key in .* does not match' \
    "a key that does not match the certificate is refused"

# Bad values, one directive at a time.
while IFS='|' read -r directive value pattern; do
    [ -n "$directive" ] || continue
    config_test bad "$directive ${value//TOP/$T_TOP}"
    like "$T_OUT" "$directive: .*$pattern" "$directive $value is refused"
done <<'BAD'
OTAEnrollSigningCertificate|/nonexistent.pem|cannot read
OTAEnrollSigningCertificate|/etc/hostname|no PEM certificate
OTAEnrollDeviceCA|/nonexistent.pem|cannot read
OTAEnrollChallengeLifetime|5|expects a number from 30 to 86400
OTAEnrollChallengeLifetime|ten|expects a number
OTAEnrollMaxBodySize|10|expects a number
OTAEnrollMaxBodySize|99999999|expects a number
OTAEnrollURL|ftp://x/y|expects an http\(s\) URL
OTAEnrollURL|relative/path|expects an http\(s\) URL
OTAEnrollSCEPURL|/scep|expects an absolute http\(s\) URL
OTAEnrollDeviceAttributes|UDID BOGUS|unknown device attribute 'BOGUS'
OTAEnrollIdentifier|"not an id"|expects a reverse-DNS identifier
OTAEnrollIdentifier|.com.example|expects a reverse-DNS identifier
OTAEnrollSCEPSubject|CN|is not ATTRIBUTE=VALUE
OTAEnrollSCEPSubject|CN=%{NOPE}|unknown field
OTAEnrollSCEPSubject|"C N=x"|not an attribute name
OTAEnrollSCEPSubjectAltName|iPAddress=10.0.0.1|unknown kind 'iPAddress'
OTAEnrollSCEPSubjectAltName|dNSName=%{NOPE}|unknown field
OTAEnrollSCEPSubjectAltName|dNSName|is not KIND=VALUE
OTAEnrollSCEPKeySize|512|expects 1024, 2048 or 4096
OTAEnrollSCEPKeyUsage|8|expects a number from 0 to 5
OTAEnrollSCEPRetries|-1|expects a number
OTAEnrollSCEPRetryDelay|x|expects a number
OTAEnrollSCEPCapabilities|DES|'DES' is not a SCEP capability
OTAEnrollGetCACaps|"SHA 1"|is not a capability name
OTAEnrollDisplayName|"a	b"|control characters not allowed
OTAEnrollDescription|"a	b"|control characters not allowed
OTAEnrollSCEPName|"a	b"|control characters not allowed
OTAEnrollCAKey|/etc/hostname|no unencrypted PEM private key
OTAEnrollSCEPCapabilities|AES MD5|'MD5' is not a SCEP capability
OTAEnrollCertificateLifetime|0|expects a number from 1 to 3650
OTAEnrollProfile|/nonexistent.plist|
OTAEnrollProfile|TOP/t/fixtures/profiles/bad-unknown-field.plist|unknown field %\{PASSWORD\}
OTAEnrollProfile|TOP/t/fixtures/profiles/bad-binary.plist|binary
OTAEnrollProfile|TOP/t/fixtures/profiles/bad-no-content.plist|PayloadContent is missing
OTAEnrollProfileCipher|des-cbc|expects aes-256-cbc, aes-128-cbc or des-ede3-cbc
OTAEnrollProfileCipher|rc2-cbc|expects aes-256-cbc
OTAEnrollIssuerCA|/nonexistent.pem|cannot read
OTAEnrollEnrollmentWindow|10|expects a number from 60
OTAEnrollCAKey|/nonexistent.key|cannot read
OTAEnrollCACertificate|/etc/hostname|no PEM certificate
OTAEnrollSCEPCACertificate|/nonexistent.pem|cannot read
OTAEnrollGetCACaps|auto SHA-1|stand alone
OTAEnrollGetCACaps|POSTPKIOperation SHA-3|'SHA-3' is not a SCEP capability
OTAEnrollCRLURL|/ota/crl|expects an absolute http\(s\) URL
OTAEnrollOCSPURL|http://x/a,b|may not contain a comma
OTAEnrollCRLLifetime|60|expects a number from 300
OTAEnrollBodyTimeout|0|expects a number from 1 to 300
OTAEnrollOCSPSigningCertificate|/nonexistent.pem|cannot read
OTAEnrollGetCACaps|SHA-1 off|stand alone
OTAEnrollRetention|-1|expects a number of days from 0 to 3650
OTAEnrollRetention|3651|expects a number of days from 0 to 3650
OTAEnrollRetention|week|expects a number of days
BAD

# The retention purge is server-wide: not in a section, not per host.
config_test retloc "<Location /x>
OTAEnrollRetention 3
</Location>"
like "$T_OUT" 'OTAEnrollRetention not allowed in <Location> context' "OTAEnrollRetention in a <Location> is refused"
config_test retvh "<VirtualHost 127.0.0.1:80>
OTAEnrollRetention 3
</VirtualHost>"
like "$T_OUT" 'OTAEnrollRetention cannot occur within <VirtualHost> section' \
    "OTAEnrollRetention in a <VirtualHost> is refused"
# The sqlite3 write lock is Apache's mutex "ota-enroll-db".
config_test mutex "Mutex flock:$T_WORK ota-enroll-db"
is "$T_OUT" "Syntax OK" "Mutex configures ota-enroll-db (the write lock)"
config_test badmutex "Mutex bogus:$T_WORK ota-enroll-db"
like "$T_OUT" 'Invalid Mutex argument bogus' "Mutex ota-enroll-db with an unknown mechanism is refused"

config_test long "OTAEnrollOrganization $(printf 'x%.0s' $(seq 1 300))"
like "$T_OUT" 'OTAEnrollOrganization: expects 1 to 256 characters' \
    "an over-long OTAEnrollOrganization is refused"

for d in OTAEnrollSupersede OTAEnrollAnonymous; do
    config_test flag "$d maybe"
    like "$T_OUT" "$d must be On or Off" "$d takes On or Off"
done
config_test front "OTAEnrollSCEPFront maybe"
like "$T_OUT" 'OTAEnrollSCEPFront must be On or Off' "OTAEnrollSCEPFront takes On or Off"
config_test notca "OTAEnrollCACertificate $PKI/signing.pem
OTAEnrollCAKey $PKI/signing.key"
like "$T_OUT" 'OTAEnrollCAKey: .*not a CA' "a leaf certificate is refused as the built-in CA"

# Startup checks that apache2 -t cannot make.
T_NO_DBD=1 apache_start nodbd "" 2>/dev/null
like "$(cat "$T_LOG" "$T_WORK/start.out" 2>/dev/null)" 'OTA00001: .*mod_dbd' \
    "without mod_dbd the server refuses to start, saying why"
apache_stop

# Pairs and handlers: refused by apache2 -t, naming directive, section
# and file (a configuration that passes configtest starts).
config_test certonly "<Location /x>
OTAEnrollSigningCertificate $PKI/signing-chain.pem
</Location>"
like "$T_OUT" "OTA00002: OTAEnrollSigningCertificate is set without OTAEnrollSigningKey in <Location /x> \\(.*httpd.conf:[0-9]+\\)" \
    "apache2 -t: a certificate without its key, with the section and file"
config_test caonly "OTAEnrollCACertificate $PKI/signing-ca.pem"
like "$T_OUT" "OTA00002: OTAEnrollCACertificate is set without OTAEnrollCAKey in the server configuration \\(.*httpd.conf:[0-9]+\\)" \
    "apache2 -t: a server-level CA certificate without its key"
config_test ocsponly "<Location /o>
OTAEnrollOCSPSigningKey $PKI/ocsp-responder.key
</Location>"
like "$T_OUT" "OTA00002: OTAEnrollOCSPSigningKey is set without OTAEnrollOCSPSigningCertificate" \
    "apache2 -t: an OCSP signing key without its certificate"
config_test noscepurl "<Location /ota/enroll>
SetHandler ota-enroll
</Location>"
like "$T_OUT" "OTA00004: SetHandler ota-enroll in <Location /ota/enroll> \\(.*httpd.conf:[0-9]+\\) needs OTAEnrollSCEPURL" \
    "apache2 -t: ota-enroll without OTAEnrollSCEPURL"
config_test nourl "<Location /ota/profile>
SetHandler ota-profile-service
</Location>"
like "$T_OUT" "OTA00004: SetHandler ota-profile-service in <Location /ota/profile> .*needs OTAEnrollURL" \
    "apache2 -t: ota-profile-service without OTAEnrollURL"
config_test noca "<Location /ota/ocsp>
SetHandler ota-ocsp
</Location>"
like "$T_OUT" "OTA00004: SetHandler ota-ocsp in <Location /ota/ocsp> .*needs OTAEnrollCACertificate" \
    "apache2 -t: ota-ocsp without a CA"
T_NO_DBD=1 config_test nodbd ""
like "$T_OUT" 'OTA00001: .*mod_dbd' "apache2 -t: without mod_dbd"
config_test caps "<Location /ota/enroll>
SetHandler ota-enroll
OTAEnrollSCEPURL https://ca.example.com/scep
OTAEnrollGetCACaps AUTO
</Location>"
is "$T_OUT" "Syntax OK" "OTAEnrollGetCACaps AUTO: auto, in any case"

# DES3 and SHA-1: a warning at start, unless confined to some devices.
apache_start weak "OTAEnrollCACertificate $PKI/signing-ca.pem
OTAEnrollCAKey $PKI/signing-ca.key
<Location /confined>
SetHandler ota-scep
<If \"%{HTTP_USER_AGENT} =~ /iPhone OS 4_/\">
OTAEnrollSCEPCapabilities DES3 SHA-1 POSTPKIOperation
</If>
</Location>"
ok $? "apache2 starts with DES3 and SHA-1 inside <If>"
is "$(log_count OTA00075)" 0 "confined in <If>: no OTA00075"
apache_stop
apache_start weak2 "OTAEnrollCACertificate $PKI/signing-ca.pem
OTAEnrollCAKey $PKI/signing-ca.key
<Location /open>
SetHandler ota-scep
OTAEnrollSCEPCapabilities DES3 SHA-1 POSTPKIOperation
</Location>"
[ "$(log_count OTA00075)" -ge 1 ]
ok $? "for every device: OTA00075 says so"
apache_stop

done_testing
