-- Cadastro de Livros: the catalog and the stock reservations the order flow makes.
CREATE TABLE livros (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    titulo    VARCHAR(200)  NOT NULL CHECK (char_length(titulo) >= 1),
    autor     VARCHAR(200),
    preco     NUMERIC(12, 2) NOT NULL CHECK (preco > 0),
    -- The last line of defence: whatever the code does, stock can never go negative.
    estoque   INTEGER       NOT NULL CHECK (estoque >= 0),
    criado_em TIMESTAMPTZ   NOT NULL DEFAULT now()
);

-- One reservation per order: the primary key makes a retried reservation a no-op.
CREATE TABLE reservas (
    ordem_id      UUID        PRIMARY KEY,
    livro_id      BIGINT      NOT NULL REFERENCES livros (id),
    quantidade    INTEGER     NOT NULL CHECK (quantidade > 0),
    status        VARCHAR(10) NOT NULL CHECK (status IN ('RESERVADA', 'LIBERADA')),
    criada_em     TIMESTAMPTZ NOT NULL DEFAULT now(),
    atualizada_em TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX reservas_livro_id ON reservas (livro_id);
