#!/usr/bin/env bash
# PostgreSQL init hook (docker-entrypoint-initdb.d): each service's role, its own database and
# its schema, as `bookstore_dev.provision` does for the local cloud. Idempotent: every step
# checks first, so it can also be run again by hand (`make up` re-runs nothing on its own).
# Reads the passwords from LIVROS_DB_PASSWORD, ORDENS_DB_PASSWORD and PAGAMENTOS_DB_PASSWORD and
# the migrations from $BOOKSTORE_FUNCTIONS_DIR/<service>/migrations; connects with libpq's PG*
# variables (inside the container: the local socket, as the superuser).
set -euo pipefail

FUNCTIONS_DIR=${BOOKSTORE_FUNCTIONS_DIR:-/bookstore/functions}
ADMIN_USER=${POSTGRES_USER:-postgres}

provision() {
    local name=$1 migrations=$2 password=$3
    psql -v ON_ERROR_STOP=1 -X -q --username "$ADMIN_USER" --dbname postgres \
        -v name="$name" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'name') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'name') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'name', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'name') \gexec
SELECT format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', :'name') \gexec
SQL
    # The schema, as the service's own role, each migration once (the table bookstore_dev.migrations keeps).
    psql -v ON_ERROR_STOP=1 -X -q --username "$name" --dbname "$name" \
        -c "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    local script version
    for script in "$FUNCTIONS_DIR/$migrations"/migrations/*.sql; do
        version=$(basename "$script" .sql)
        if [ -z "$(psql -X -qtA --username "$name" --dbname "$name" -v version="$version" \
                <<<"SELECT 1 FROM schema_migrations WHERE version = :'version'")" ]; then
            psql -v ON_ERROR_STOP=1 -X -q -1 --username "$name" --dbname "$name" -f "$script" \
                -c "INSERT INTO schema_migrations (version) VALUES ('$version')"
            echo "bookstore: $name: applied $version"
        fi
    done
}

provision livros books "${LIVROS_DB_PASSWORD:?}"
provision ordens orders "${ORDENS_DB_PASSWORD:?}"
provision pagamentos payments "${PAGAMENTOS_DB_PASSWORD:?}"
