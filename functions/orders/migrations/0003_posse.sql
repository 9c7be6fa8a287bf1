-- One request at a time works on an order. A request that creates or resumes an order owns it
-- until its own deadline (its function's timeout: after that it cannot be running any more);
-- a retry with the same key, or a request racing the first with it, takes the order only once
-- that has passed or the owner left it PENDENTE and let go. Without it, two requests with one
-- key worked on one order at once: one released the stock the other had sold, or ended NAO_CONCLUIDA
-- an order the other then charged.
ALTER TABLE ordens ADD COLUMN em_processamento_ate TIMESTAMPTZ;
