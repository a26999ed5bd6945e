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
