-- Licensed under the Apache License, Version 2.0 (see LICENSE).
-- make bench-scale (bench/scale.sh): the certificates of the registry's
-- devices that hold one, alike in both dialects; read by
-- bench/scale-sqlite.sql and bench/scale-pgsql.sql.
INSERT INTO ota_certificate (serial, transaction_id, udid, subject, issued,
    not_after, revoked, cert, requester, revoked_reason, username)
SELECT cert_serial, 'tid-' || cert_serial, udid, 'CN=' || udid,
       :now - 31536000, :now + 31536000, NULL, '-----BEGIN CERTIFICATE-----',
       identity, NULL, username
FROM ota_device WHERE cert_serial IS NOT NULL;
