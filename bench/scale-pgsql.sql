-- Licensed under the Apache License, Version 2.0 (see LICENSE).
-- make bench-scale (bench/scale.sh): the PostgreSQL registry of :N devices,
-- the same rows as bench/scale-sqlite.sql, in the schema the module
-- created. Rows go in with the tally triggers off and the trigram index
-- dropped (rebuilt after: faster than growing it row by row); the tallies
-- are then set from COUNT(*), as the migration to schema 6 sets them.
\set ON_ERROR_STOP on
SET maintenance_work_mem = '512MB';
BEGIN;
ALTER TABLE ota_device DISABLE TRIGGER USER;
ALTER TABLE ota_challenge DISABLE TRIGGER USER;
ALTER TABLE ota_scep_challenge DISABLE TRIGGER USER;
ALTER TABLE ota_certificate DISABLE TRIGGER USER;
DROP INDEX ota_device_search;
INSERT INTO ota_device (udid, serial, product, version, username, phase,
    first_seen, last_seen, phase1_at, phase2_at, cert_serial, cert_at,
    enrolled_at, identity)
SELECT '0000' || upper(lpad(to_hex(32784 + i % 16), 4, '0')) || '-'
       || upper(lpad(to_hex((i::bigint * 2654435761) % 4294967296), 8, '0'))
       || upper(lpad(to_hex((i::bigint * 40503 + 12345) % 4294967296), 8, '0')),
       'C02' || upper(lpad(to_hex((i::bigint * 2246822519) % 68719476736), 9, '0')),
       (ARRAY['iPhone15,2', 'iPhone14,5', 'iPad13,1', 'Mac14,2'])[i % 4 + 1],
       '17.' || (i % 5),
       (ARRAY['anna','ben','carla','david','emma','felix','greta','hans','ida','jonas','karin','lars','maria','nils','olga','paul','rosa','sven','tina','uwe','vera','wim','xenia','yann','zoe','alex','bea','chris','dana','eric','fiona','georg','hanna','ivan','julia','kurt','lena','max','nora','otto'])[i % 20000 % 40 + 1]
       || '.' || (ARRAY['schmidt','meyer','weber','wagner','becker','schulz','hoffmann','koch','richter','klein','wolf','neumann','schwarz','braun','zimmermann','hartmann','kruger','lange','werner','krause','lehmann','schmitt','walter','peters','kaiser','fuchs','scholz','vogel','keller','frank','jung','roth','beck','lorenz','baumann','ziegler','simon','franke','albrecht','winter','ludwig','martin','engel','kuhn','berger','graf','busch','pohl','horn','arnold'])[i % 20000 / 40 % 50 + 1]
       || (i % 20000 / 2000),
       2 + i % 3,
       :now - 31536000 + i % 15552000,
       :now - 3600 - (i::bigint * 7919) % 15552000,
       :now - 31536000, :now - 31536000,
       CASE WHEN i % 3 > 0
            THEN upper(lpad(to_hex((i::bigint * 2654435761) % 4294967296 * 65536
                                   + i % 65536), 16, '0')) END,
       CASE WHEN i % 3 > 0 THEN :now - 31536000 END,
       CASE WHEN i % 3 = 2 THEN :now - 31536000 END,
       lpad(to_hex(i), 64, '0')
FROM generate_series(1, :N) AS i;
\ir scale-certificates.sql
INSERT INTO ota_challenge (digest, username, created, expires, used)
SELECT upper(lpad(to_hex(i), 64, '0')), 'user' || (i % 20000),
       :now - 86400 * (1 + i % 5) - 900, :now - 86400 * (1 + i % 5),
       CASE WHEN i % 4 > 0 THEN :now - 86400 * (1 + i % 5) - 600 END
FROM generate_series(1, :N) AS i;
INSERT INTO ota_scep_challenge (digest, udid, subject, created, expires,
    used, san)
SELECT 'S' || upper(lpad(to_hex(i), 63, '0')), 'X', 'CN=X',
       :now - 86400 * (1 + i % 5) - 900, :now - 86400 * (1 + i % 5),
       :now - 86400 * (1 + i % 5) - 600, NULL
FROM generate_series(1, :N / 2) AS i;
UPDATE ota_tally SET challenges = 0, scep_challenges = 0, devices = 0,
    certificates = 0, phase0 = 0, phase1 = 0, phase2 = 0, phase3 = 0,
    phase4 = 0;
UPDATE ota_tally SET challenges = (SELECT COUNT(*) FROM ota_challenge),
    scep_challenges = (SELECT COUNT(*) FROM ota_scep_challenge),
    devices = (SELECT COUNT(*) FROM ota_device),
    certificates = (SELECT COUNT(*) FROM ota_certificate),
    phase2 = (SELECT COUNT(*) FROM ota_device WHERE phase = 2),
    phase3 = (SELECT COUNT(*) FROM ota_device WHERE phase = 3),
    phase4 = (SELECT COUNT(*) FROM ota_device WHERE phase = 4)
WHERE slot = 0;
CREATE INDEX ota_device_search ON ota_device USING gin
    (udid gin_trgm_ops, serial gin_trgm_ops, product gin_trgm_ops,
     username gin_trgm_ops, cert_serial gin_trgm_ops)
    WITH (fastupdate = off);
ALTER TABLE ota_device ENABLE TRIGGER USER;
ALTER TABLE ota_challenge ENABLE TRIGGER USER;
ALTER TABLE ota_scep_challenge ENABLE TRIGGER USER;
ALTER TABLE ota_certificate ENABLE TRIGGER USER;
COMMIT;
ANALYZE;
