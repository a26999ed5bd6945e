-- CREATE INDEX CONCURRENTLY: SHARE UPDATE EXCLUSIVE, two table scans, cannot run in a
-- transaction block (a step with this single statement runs outside one).
CREATE INDEX CONCURRENTLY orders_created_at_idx ON orders (created_at);
