-- The differential suite's schema, run statement by statement (split at ';' + newline) through the
-- proxy, which broadcasts DDL to every shard, and directly on the oracle. The sharding rules for these
-- tables are SHARDING in queries.ts (customers/orders co-located by an int8 key, products by text,
-- sessions by uuid, regions_events by a list rule, readings by a range rule, countries everywhere).
-- positional starts empty: the writes fill it with INSERTs without a column list while its columns
-- change, its key not being the first column. my_ci is a collation the merge cannot order by;
-- customers.nick (a copy of name) has an ICU collation of its own, which sorted merges must follow.

CREATE TABLE countries (
  code      text PRIMARY KEY,
  name      text NOT NULL,
  continent text NOT NULL,
  eu        boolean NOT NULL
);

CREATE TABLE customers (
  id        int8 PRIMARY KEY,
  name      text NOT NULL,
  email     text,
  country   text,
  balance   numeric(12,2),
  score     float8,
  vip       boolean,
  signup    date,
  last_seen timestamptz,
  visits    int4 NOT NULL,
  points    int8 NOT NULL
);

CREATE TABLE orders (
  customer_id int8 NOT NULL,
  id          int8 NOT NULL,
  status      text NOT NULL,
  amount      numeric(12,2) NOT NULL,
  qty         int4 NOT NULL,
  weight      float8,
  placed_at   timestamptz NOT NULL,
  note        text,
  PRIMARY KEY (customer_id, id)
);

ALTER TABLE customers ADD COLUMN nick text COLLATE "und-x-icu" GENERATED ALWAYS AS (name) STORED;

CREATE INDEX orders_status_idx ON orders (status);

CREATE TABLE products (
  sku      text PRIMARY KEY,
  title    text NOT NULL,
  category text NOT NULL,
  price    numeric(10,2) NOT NULL,
  stock    int4 NOT NULL,
  tags     text
);

CREATE TABLE sessions (
  id          uuid PRIMARY KEY,
  customer_id int8 NOT NULL,
  started_at  timestamptz NOT NULL,
  duration_s  int4,
  device      text
);

CREATE TABLE regions_events (
  region text NOT NULL,
  id     int8 NOT NULL,
  kind   text NOT NULL,
  amount int4 NOT NULL,
  at     date NOT NULL,
  PRIMARY KEY (region, id)
);

CREATE TABLE readings (
  sensor   int4 NOT NULL,
  seq      int4 NOT NULL,
  value    numeric(10,3) NOT NULL,
  temp     float8,
  taken_at timestamptz NOT NULL,
  PRIMARY KEY (sensor, seq)
);

CREATE TABLE positional (
  label text,
  note  text,
  pid   int8 NOT NULL,
  qty   int4 DEFAULT 7
);

CREATE COLLATION my_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
