-- pg-deliveries: the deliveries service database (created by POSTGRES_DB).

CREATE TABLE deliveries (
    id           bigserial PRIMARY KEY,
    order_id     bigint UNIQUE,
    status       text,
    courier_name text,
    delivered_at timestamptz
);
