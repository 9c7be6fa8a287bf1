-- A release that arrives before its reservation (the reservation slow, the order given up) leaves
-- a tombstone: a LIBERADA row that holds nothing (quantidade 0), so the reservation that arrives
-- after it is refused instead of holding stock that no one will ever give back.
ALTER TABLE reservas DROP CONSTRAINT reservas_quantidade_check;
ALTER TABLE reservas ADD CONSTRAINT reservas_quantidade_check CHECK (quantidade > 0 OR (quantidade = 0 AND status = 'LIBERADA'));
