#!/usr/bin/env bash
# Writes localstack/.env once: random passwords for the compose file's PostgreSQL, so none is
# ever committed. Later runs keep the file (the database volume was created with them).
set -euo pipefail
env_file="$(dirname "$0")/.env"
if [ -f "$env_file" ]; then
    exit 0
fi
password() { LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 24; }
umask 077
{
    echo "# Written by localstack/env.sh for the Docker path; not committed (.gitignore)."
    echo "POSTGRES_PASSWORD=$(password)"
    echo "LIVROS_DB_PASSWORD=$(password)"
    echo "ORDENS_DB_PASSWORD=$(password)"
    echo "PAGAMENTOS_DB_PASSWORD=$(password)"
} >"$env_file"
echo "wrote $env_file"
