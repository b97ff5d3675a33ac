-- Licensed under the Apache License, Version 2.0 (see LICENSE).
-- make bench-scale (bench/scale.sh): a sqlite3 registry of :N devices, made
-- in the schema the module created. UDIDs and serials shaped like Apple's
-- (hexadecimal, pseudo-random), 20,000 users named first.lastN (50 devices
-- each), four products, phases 2 to 4, last seen over six months; two in
-- three devices hold a certificate; :N phase-1 challenges (three in four
-- used) and :N/2 SCEP challenges, all expired 1 to 5 days ago (inside the
-- default retention). The module's triggers keep the tallies and the
-- search index as the rows go in. Read in bench/ (.read names a file
-- there).
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :N)
INSERT INTO ota_device (udid, serial, product, version, username, phase,
    first_seen, last_seen, phase1_at, phase2_at, cert_serial, cert_at,
    enrolled_at, identity)
SELECT printf('0000%04X-%08X%08X', 32784 + i % 16,
              (i * 2654435761) % 4294967296, (i * 40503 + 12345) % 4294967296),
       printf('C02%09X', (i * 2246822519) % 68719476736),
       CASE i % 4 WHEN 0 THEN 'iPhone15,2' WHEN 1 THEN 'iPhone14,5'
                  WHEN 2 THEN 'iPad13,1' ELSE 'Mac14,2' END,
       '17.' || (i % 5),
       rtrim(substr('anna ben  carladavidemma felixgretahans ida  jonaskarinlars marianils olga paul rosa sven tina uwe  vera wim  xeniayann zoe  alex bea  chrisdana eric fionageorghannaivan juliakurt lena max  nora otto ', 1 + 5 * (i % 20000 % 40), 5)) || '.' ||
       rtrim(substr('schmidt   meyer     weber     wagner    becker    schulz    hoffmann  koch      richter   klein     wolf      neumann   schwarz   braun     zimmermannhartmann  kruger    lange     werner    krause    lehmann   schmitt   walter    peters    kaiser    fuchs     scholz    vogel     keller    frank     jung      roth      beck      lorenz    baumann   ziegler   simon     franke    albrecht  winter    ludwig    martin    engel     kuhn      berger    graf      busch     pohl      horn      arnold    ',
                    1 + 10 * (i % 20000 / 40 % 50), 10)) || (i % 20000 / 2000),
       2 + i % 3,
       :now - 31536000 + i % 15552000, :now - 3600 - (i * 7919) % 15552000,
       :now - 31536000, :now - 31536000,
       CASE WHEN i % 3 > 0
            THEN printf('%016X', (i * 2654435761) % 4294967296 * 65536
                                 + i % 65536) END,
       CASE WHEN i % 3 > 0 THEN :now - 31536000 END,
       CASE WHEN i % 3 = 2 THEN :now - 31536000 END,
       printf('%064x', i)
FROM n;
.read scale-certificates.sql
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :N)
INSERT INTO ota_challenge (digest, username, created, expires, used)
SELECT printf('%064X', i), 'user' || (i % 20000),
       :now - 86400 * (1 + i % 5) - 900, :now - 86400 * (1 + i % 5),
       CASE WHEN i % 4 > 0 THEN :now - 86400 * (1 + i % 5) - 600 END
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
                        WHERE i < :N / 2)
INSERT INTO ota_scep_challenge (digest, udid, subject, created, expires,
    used, san)
SELECT printf('S%063X', i), 'X', 'CN=X', :now - 86400 * (1 + i % 5) - 900,
       :now - 86400 * (1 + i % 5), :now - 86400 * (1 + i % 5) - 600, NULL
FROM n;
COMMIT;
