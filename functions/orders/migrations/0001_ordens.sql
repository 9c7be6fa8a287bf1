-- Ordem de Compra: purchase orders and the answer each one got.
CREATE TABLE ordens (
    id              UUID          PRIMARY KEY,
    -- A retried POST with the same key gets the first answer (or resumes an order left PENDENTE).
    idempotency_key VARCHAR(255)  UNIQUE,
    livro_id        BIGINT        NOT NULL,
    quantidade      INTEGER       NOT NULL CHECK (quantidade BETWEEN 1 AND 100),
    valor_total     NUMERIC(12, 2) NOT NULL CHECK (valor_total > 0),
    status          VARCHAR(15)   NOT NULL CHECK (status IN ('PENDENTE', 'CONCLUIDA', 'NAO_CONCLUIDA')),
    motivo          VARCHAR(40),
    pagamento_id    UUID,
    -- The HTTP status the order's final answer had, replayed to retries.
    http_status     SMALLINT,
    criada_em       TIMESTAMPTZ   NOT NULL DEFAULT now(),
    atualizada_em   TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CONSTRAINT concluida_tem_pagamento CHECK (status <> 'CONCLUIDA' OR pagamento_id IS NOT NULL)
);
