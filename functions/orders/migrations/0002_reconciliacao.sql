-- Reconciliation: an order left PENDENTE (its request interrupted, its environment killed) is
-- ended by the scheduled reconciler once no request has touched it for the threshold.
-- `reconciliada_em` says the reconciler took it: from then on a retry with the same key does not
-- resume it (the two would race: one concluding, the other giving the stock and money back).
ALTER TABLE ordens ADD COLUMN reconciliada_em TIMESTAMPTZ;
-- The W3C traceparent of the request that created the order: the reconciler's span links to it.
ALTER TABLE ordens ADD COLUMN traceparent VARCHAR(55);
-- The reconciler's query: the oldest orders still PENDENTE.
CREATE INDEX ordens_pendentes ON ordens (atualizada_em) WHERE status = 'PENDENTE';
