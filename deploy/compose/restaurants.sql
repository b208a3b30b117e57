-- pg-restaurants: the restaurants service database (created by POSTGRES_DB).

CREATE TABLE restaurants (
    id      bigserial PRIMARY KEY,
    name    text,
    cuisine text,
    city    text
);

CREATE TABLE menu_items (
    id            bigserial PRIMARY KEY,
    restaurant_id bigint,
    name          text,
    description   text,
    price_cents   bigint
);
