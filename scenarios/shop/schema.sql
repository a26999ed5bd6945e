-- A small shop: users and their orders. Used by the shipped scenarios.
CREATE TABLE users (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    full_name  text NOT NULL,
    status     text NOT NULL,
    created_at timestamptz NOT NULL,
    profile    jsonb
);

CREATE TABLE orders (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id),
    total       numeric(10, 2) NOT NULL,
    status      text NOT NULL,
    created_at  timestamptz NOT NULL,
    note        text
);
CREATE INDEX orders_user_id_idx ON orders (user_id);

-- Payments of orders. No foreign key to orders yet (add-foreign-key.toml adds one), a reference
-- that is distinct but not declared unique (add-unique-constraint.toml), an amount in an int4
-- (change-column-type.toml).
CREATE TABLE payments (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id     bigint NOT NULL,
    reference    text NOT NULL,
    provider     text NOT NULL,
    amount_cents integer NOT NULL,
    memo         varchar(100),
    created_at   timestamptz NOT NULL
);
CREATE INDEX payments_order_id_idx ON payments (order_id);
