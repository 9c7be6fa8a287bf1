#!/usr/bin/env bash
# Writes localstack/.env once: a random password for the compose file's PostgreSQL superuser, so
# none is ever committed. Later runs keep the file (the database volume was created with it).
# The services' own roles get their passwords from `localstack/provision.sh`, on every `make up`.
set -euo pipefail
env_file="$(dirname "$0")/.env"
if [ -f "$env_file" ]; then
    exit 0
fi
umask 077
{
    echo "# Written by localstack/env.sh for the Docker path; not committed (.gitignore)."
    echo "POSTGRES_PASSWORD=$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 24)"
} >"$env_file"
echo "wrote $env_file"
