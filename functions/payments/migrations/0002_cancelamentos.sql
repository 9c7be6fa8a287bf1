-- Voids. An order that could not learn whether it was charged (its calls timed out) cancels its
-- payment by ordem_id: an approved payment is refunded (ESTORNADO), and a charge that arrives
-- after the cancellation is refused, so an order that did not conclude is never charged.
CREATE TABLE cancelamentos (
    ordem_id  UUID        PRIMARY KEY,
    criado_em TIMESTAMPTZ NOT NULL DEFAULT now()
);

ALTER TABLE pagamentos DROP CONSTRAINT pagamentos_status_check;
ALTER TABLE pagamentos ADD CONSTRAINT pagamentos_status_check CHECK (status IN ('APROVADO', 'RECUSADO', 'ESTORNADO'));
