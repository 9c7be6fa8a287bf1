#!/usr/bin/env bash
# Provisions, from the host, what template.yaml's services need in `make up`'s containers, with
# Bookstore's one provisioning (bookstore_dev.provision): each service's role (fresh password),
# its own database, its migrations, and its Secrets Manager secret in LocalStack.
# `make up` runs this every time, once the containers are healthy: LocalStack keeps no state
# across restarts, so its secrets must be written again, and the roles' passwords rotate with
# them (the database volume keeps the roles, databases and applied migrations).
#   localstack/provision.sh              (make up)
# Environment: PYTHON (python3); POSTGRES_PASSWORD (else read from localstack/.env, as compose
# does: the shell's value wins); POSTGRES_HOST_PORT (5433); LOCALSTACK_ENDPOINT
# (http://localhost:4566). The region is localstack/docker-path.sh's.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    POSTGRES_PASSWORD=$(sed -n 's/^POSTGRES_PASSWORD=//p' localstack/.env)
fi
: "${POSTGRES_PASSWORD:?no POSTGRES_PASSWORD in localstack/.env: run make up, which writes it}"
# libpq reads the superuser's password from here, so it never shows in a process list.
export PGPASSWORD=$POSTGRES_PASSWORD
# The Docker path's region and LocalStack credentials, whatever the shell exported.
# shellcheck source=localstack/docker-path.sh
source localstack/docker-path.sh

# This process reaches PostgreSQL on the host port; the functions, inside the Docker network,
# reach it as postgres:5432, which is what the secrets say.
"$PYTHON" -m bookstore_dev.provision \
    --admin-dsn "host=127.0.0.1 port=${POSTGRES_HOST_PORT:-5433} user=postgres dbname=postgres" \
    --aws-endpoint "${LOCALSTACK_ENDPOINT:-http://localhost:4566}" \
    --secret-db-host postgres --secret-db-port 5432
