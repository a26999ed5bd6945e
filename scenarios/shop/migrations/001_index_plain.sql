-- Plain CREATE INDEX: SHARE lock on orders for the whole build (blocks writes).
CREATE INDEX orders_created_at_idx ON orders (created_at);
