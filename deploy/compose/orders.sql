-- pg-orders holds two service databases: orders (created by POSTGRES_DB) and
-- consumers. The entrypoint runs this file with psql, connected to orders.

CREATE TABLE orders (
    id            bigserial PRIMARY KEY,
    consumer_id   bigint,
    restaurant_id bigint,
    status        text,
    total_cents   bigint,
    created_at    timestamptz DEFAULT now(),
    notes         text
);

CREATE TABLE order_line_items (
    id           bigserial PRIMARY KEY,
    order_id     bigint,
    menu_item_id bigint,
    quantity     int,
    price_cents  bigint
);

CREATE DATABASE consumers;
\connect consumers

CREATE TABLE consumers (
    id         bigserial PRIMARY KEY,
    name       text,
    email      text,
    created_at timestamptz
);
