-- Demo tables for the `app_db` source of examples/sources.yaml (the local PostgreSQL, database `test`).
-- psql -h 127.0.0.1 -U postgres -d test -f examples/app_db.sql
CREATE TABLE IF NOT EXISTS public.accounts (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    plan text,
    updated_at timestamp NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS public.events (
    id bigserial PRIMARY KEY,
    account_id bigint REFERENCES public.accounts (id),
    name text NOT NULL,
    payload jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
