-- Pagamento: one payment per order. Only the card's last four digits are ever stored.
CREATE TABLE pagamentos (
    id           UUID          PRIMARY KEY,
    -- UNIQUE makes a retried payment a no-op: a repeat returns this row, never a second charge.
    ordem_id     UUID          NOT NULL UNIQUE,
    valor        NUMERIC(12, 2) NOT NULL CHECK (valor > 0),
    status       VARCHAR(10)   NOT NULL CHECK (status IN ('APROVADO', 'RECUSADO')),
    motivo       VARCHAR(40),
    cartao_final CHAR(4)       NOT NULL CHECK (cartao_final ~ '^[0-9]{4}$'),
    criado_em    TIMESTAMPTZ   NOT NULL DEFAULT now()
);
