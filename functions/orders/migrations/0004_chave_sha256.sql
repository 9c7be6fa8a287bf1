-- The Idempotency-Key is stored as its SHA-256 (hex): the key is the client's own text, and a
-- hostile probe saw a card number sent as one stored as it came. Equal keys still match; the key
-- itself is never read back. Keys stored before this are hashed in place.
UPDATE ordens SET idempotency_key = encode(sha256(convert_to(idempotency_key, 'UTF8')), 'hex') WHERE idempotency_key IS NOT NULL;
