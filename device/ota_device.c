/* Licensed under the Apache License, Version 2.0 (see LICENSE). */
/* ota-device: plays an Apple device against a profile service (phases 1
 * and 2, SCEP as the device does it: GetCACert, GetCACaps, PKIOperation,
 * then phase 3 and its encrypted final profile), sends single SCEP
 * requests for tests, and inspects or forges phase-2 bodies with the
 * module's own CMS code. A test tool: it prints every request so tests
 * can count them, and never prints a challenge or a key.
 *
 * This file: main, the usage text and the dispatch to the commands, one
 * file each (dev_enroll.c, dev_scep.c, dev_inspect.c, dev_load.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <curl/curl.h>

#include "dev.h"

static const char usage_text[] =
"usage: ota-device enroll --url URL --identity CERT --key KEY [options]\n"
"       ota-device enroll --phase3-only --url ENROLL-URL\n"
"                         --phase3-identity CERT --phase3-key KEY [options]\n"
"       ota-device scep --url SCEP-URL [options]\n"
"       ota-device inspect FILE [--device-ca FILE]\n"
"       ota-device sign --identity CERT --key KEY [--chain FILE]\n"
"                       [--digest sha1|sha256|md5] [--attributes] IN OUT\n"
"       ota-device load --phase 1|2|3|scep --url URL [--requests N]\n"
"                       [--concurrency C] [options]\n"
"       ota-device --help\n"
"\n"
"enroll: plays an Apple device: phase 1 (GET URL), phase 2 (POST the\n"
"signed device attributes), then SCEP as the device does it: GetCACert,\n"
"GetCACaps (unless the payload lists the capabilities), PKIOperation\n"
"(PKCSReq; GetCertInitial while PENDING, as Retries and RetryDelay say)\n"
"with a new key of the payload's Keysize for its Subject and Challenge,\n"
"then phase 3: POST the attributes again, without CHALLENGE, signed with\n"
"the identity obtained; the answer's EncryptedPayloadContent is decrypted\n"
"with it and the final payloads listed.\n"
"  --url URL            the profile service\n"
"  --user USER:PASS     HTTP basic authentication for phase 1\n"
"  --cacert FILE        CA certificates for the server's TLS\n"
"  --trust FILE         root the profiles must be signed under (strict\n"
"                       store); without it signatures are not checked\n"
"  --identity CERT      device identity certificate (PEM, may hold a chain)\n"
"  --key KEY            its private key (PEM)\n"
"  --chain FILE         more certificates to send with the signature\n"
"  --emulate OS         ios3, ios4 or current (default current)\n"
"  --udid U             default: the identity's CN (--phase3-only: the\n"
"                       phase-3 identity's)\n"
"  --serial S           default OTAEMU000001\n"
"  --product P          default iPhone2,1 / iPhone3,1 / iPhone15,2\n"
"  --version V          default 7E18 / 8A293 / 21A329\n"
"  --digest sha1|sha256 phase-2 signature digest (default sha1)\n"
"  --phase3-digest sha1|sha256\n"
"                       phase-3 signature digest (default sha256)\n"
"  --attributes         add signed attributes to phases 2 and 3 (real\n"
"                       devices send none in phase 2)\n"
"  --scep-legacy        accept a CertRep signed with SHA-1 and enciphered\n"
"                       with single DES (micromdm's scepserver)\n"
"  --stop-after phase2  stop before PKIOperation (after phase 2, GetCACert\n"
"                       and GetCACaps): RESULT: ready for SCEP\n"
"  --stop-after scep    stop before phase 3: RESULT: enrolled\n"
"  --phase3-identity CERT\n"
"  --phase3-key KEY     sign phase 3 with this identity (CERT may hold a\n"
"                       chain, sent too) and decrypt its answer with it,\n"
"                       instead of the identity SCEP gave\n"
"  --phase3-only        phase 3 alone: --url is the enrollment URL (phase\n"
"                       1's PayloadContent.URL); needs --phase3-identity\n"
"                       and --phase3-key, not --identity and --key; sends\n"
"                       UDID, VERSION, PRODUCT, SERIAL, IMEI, MEID and\n"
"                       DEVICE_NAME\n"
"  --save-dir DIR       keep phase1.der, phase1.plist, phase2-request.der,\n"
"                       phase2.der, phase2.plist, scep-request.der,\n"
"                       scep-reply.der, phase3-request.der, phase3.der,\n"
"                       phase3.plist (the final profile),\n"
"                       encrypted-content.der (its EnvelopedData) and\n"
"                       final-payloads.plist (the decrypted payloads) in\n"
"                       DIR, and the identity obtained: device-key.pem,\n"
"                       device-cert.pem\n"
"  --timeout SEC        bound of every request (default: 30 for phases\n"
"                       1, 2 and 3 and PKIOperation, 3 for GetCACert and\n"
"                       GetCACaps); also the longest RetryDelay waited\n"
"scep: one SCEP request, for tests\n"
"  --url URL            the SCEP URL\n"
"  --operation OP       GetCACaps, GetCACert or PKIOperation (default)\n"
"  --type T             pkcsreq (default), renewal or poll (GetCertInitial)\n"
"  --subject /O=x/CN=y  the CSR's subject (renewal default: the signer's),\n"
"                       or the one polled for; '+' joins a multi-valued\n"
"                       RDN, '\\' escapes\n"
"  --challenge C        the CSR's challengePassword\n"
"  --key FILE           the key to certify (default: a new RSA key)\n"
"  --keysize N          its size when generated (default 2048)\n"
"  --signer-cert FILE   the message's signer and its key (renewal: the\n"
"  --signer-key FILE    certificate being renewed); default: a\n"
"                       self-signed certificate for --key\n"
"  --csr-key FILE       make the CSR for this key instead, the message\n"
"                       still signed by the signer (proof-of-possession)\n"
"  --csr FILE           send this PEM CSR (made by openssl req, say) as\n"
"                       it is, instead of making one; --key is its key\n"
"  --digest D           sha256 (default), sha1 or md5\n"
"  --cipher C           aes256 (default), aes128, des3 or des\n"
"  --method M           post (default) or get (base64 message=)\n"
"  --transaction-id ID  default: hex SHA-256 of the public key certified\n"
"                       (--csr-key, else --key): a renewal is a new\n"
"                       transaction, a poll repeats its request's\n"
"  --cacert FILE        the CA (or RA) certificate to encrypt to and to\n"
"                       verify the CertRep with (default: GetCACert's)\n"
"  --tls-cacert FILE    CA certificates for an https SCEP URL\n"
"  --save-request FILE  keep the pkiMessage sent\n"
"  --send FILE          send FILE as the PKIOperation instead of building\n"
"                       one (its CertRep is read when FILE carries SCEP\n"
"                       attributes and --key/--signer-* are its keys)\n"
"  --out-cert FILE      the certificate issued (GetCACert: every one), PEM\n"
"  --out-key FILE       the key to certify, PEM (written before sending)\n"
"  --scep-legacy        as for enroll\n"
"  --timeout SEC        bound of the request\n"
"inspect: verifies a captured phase-2 body (DER or BER) as the module does\n"
"  --device-ca FILE     device CA chain (default " OTA_DEVICE_CA_DEFAULT ")\n"
"sign: signs IN as a device would (default sha1, no signed attributes)\n"
"load: N valid requests, C in flight on keep-alive connections (libcurl's\n"
"multi interface), everything prepared before the clock starts; prints\n"
"requests/s, latency (p50, p99), errors (non-2xx, wrong Content-Type,\n"
"unreadable answer, SCEP FAILURE) and, with --pidfile or --server-pid,\n"
"the server's CPU time per request and its resident memory before and\n"
"after, as one line: LOAD key=value...\n"
"  --phase 1            GET URL (the profile service) N times\n"
"  --phase 2            first N phase-1 GETs of URL mint N challenges and\n"
"                       N attribute bodies (a new UDID each) are signed\n"
"                       with --identity/--key/--chain (--digest, default\n"
"                       sha1, no signed attributes); then they are posted\n"
"  --phase 3            one device enrolls first (phases 1, 2, SCEP, as\n"
"                       enroll does); then N phase-3 bodies signed by its\n"
"                       SCEP identity are posted\n"
"  --phase scep         URL is a SCEP URL: GetCACert (or --scep-cacert),\n"
"                       then N PKCSReq for one new key (--keysize, default\n"
"                       2048) with --challenge, each with its own subject\n"
"                       (--subject /O=x, plus a unique CN) and\n"
"                       transactionID (--digest default sha256, --cipher\n"
"                       default aes256), POSTed; every CertRep is read\n"
"                       (--scep-legacy for micromdm's scepserver)\n"
"  --requests N         default 1000\n"
"  --concurrency C      requests in flight, default 8\n"
"  --trust FILE         verify every answer's signature under this root\n"
"  --pidfile FILE       apache2's pid file: the parent and its apache2\n"
"                       children are sampled from /proc\n"
"  --server-pid PID     another server (and its children)\n"
"  --rss-every K        print the server's memory every K answers\n"
"  --deadline SEC       start no request after SEC seconds of the run;\n"
"                       report those answered (unsent=: the others)\n"
"  --start-after FILE   once prepared, print READY and wait for FILE to\n"
"                       exist before the clock starts (for profilers)\n"
"  --user, --cacert, --emulate, --attributes, --phase3-digest, --timeout\n"
"                       as for enroll\n"
"\n"
"exit status: 0 ok, 1 usage or local error (inspect: refused), 2 phase 1\n"
"failed, 3 phase 2 failed, 4 network connection lost (iOS 4 without\n"
"GetCACaps), 5 SCEP failed (no answer, HTTP error, CertRep unreadable;\n"
"enroll: FAILURE, still PENDING), 6 scep: FAILURE, 7 scep: PENDING,\n"
"8 phase 3 failed (HTTP error, signature refused, final profile malformed\n"
"or undecryptable), 9 load: some answers were errors\n";

/* A command: its name, its bit (DEV_CMD_*: the options it accepts) and
 * what runs it. */
typedef struct command {
    const char *name;
    unsigned bit;
    int (*run)(dev_ctx *ctx);
} command;

static const command commands[] = {
    { "enroll", DEV_CMD_ENROLL, dev_cmd_enroll },
    { "scep", DEV_CMD_SCEP, dev_cmd_scep },
    { "inspect", DEV_CMD_INSPECT, dev_cmd_inspect },
    { "sign", DEV_CMD_SIGN, dev_cmd_sign },
    { "load", DEV_CMD_LOAD, dev_cmd_load },
    { NULL, 0, NULL }
};

static int dispatch(int argc, const char *const *argv, apr_pool_t *p)
{
    dev_ctx *ctx = apr_pcalloc(p, sizeof(*ctx));
    const command *cmd;
    int rc;

    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_LOCAL;
    }
    if (cli_is_help(argv[1])) {
        fputs(usage_text, stdout);
        return 0;
    }
    cmd = commands;
    while (cmd->name && strcmp(cmd->name, argv[1]) != 0) {
        cmd++;
    }
    if (!cmd->name) {
        fputs(usage_text, stderr);
        return cli_complain(EXIT_LOCAL, "unknown command %s", argv[1]);
    }
    ctx->p = p;
    ctx->command = cmd->name;
    dev_options_init(ctx);
    if ((rc = dev_options_parse(ctx, cmd->bit, argc, argv)) != 0) {
        fprintf(stderr, "(see ota-device --help)\n");
        return rc;
    }
    if (ctx->help) {
        fputs(usage_text, stdout);
        return 0;
    }
    return cmd->run(ctx);
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    int rc;

    if (cli_start("ota-device", &argc, &argv) != 0) {
        return EXIT_LOCAL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK
        || apr_pool_create(&p, NULL) != APR_SUCCESS
        || ota_scep_init() != APR_SUCCESS) {
        return cli_complain(EXIT_LOCAL, "cannot initialize libcurl or the "
                            "SCEP OIDs");
    }
    rc = dispatch(argc, argv, p);
    apr_pool_destroy(p);
    curl_global_cleanup();
    return rc;
}
