"""Applies a service's SQL migrations (`functions/<service>/migrations/NNNN_name.sql`) in order,
each once, each in its own transaction, recorded in `schema_migrations`.

Run as a deployment step, never at cold start:
    python -m bookstore_dev.migrations --secret-id bookstore/livros/db functions/books/migrations
    python -m bookstore_dev.migrations --dsn postgresql://... functions/books/migrations
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import psycopg
from psycopg import sql

# Serialises concurrent runs against one database (any constant shared by the runners will do).
ADVISORY_LOCK_ID = 7_261_001


def apply(conninfo: str, directory: Path) -> list[str]:
    """Applies what is missing; returns the versions applied now."""
    applied_now = []
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_ID,))
        try:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in connection.execute("SELECT version FROM schema_migrations")}
            for script in sorted(directory.glob("*.sql")):
                if script.stem in done:
                    continue
                with connection.transaction():
                    connection.execute(sql.SQL(script.read_text()))
                    connection.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (script.stem,))
                applied_now.append(script.stem)
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_ID,))
    return applied_now


def _conninfo_from_secret(secret_id: str) -> str:
    import boto3

    secret = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
    return psycopg.conninfo.make_conninfo(
        host=secret["host"], port=secret["port"], user=secret["username"], password=secret["password"], dbname=secret["dbname"]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dsn", help="libpq connection string or URL")
    source.add_argument("--secret-id", help="Secrets Manager secret with the RDS credential layout")
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    conninfo = args.dsn or _conninfo_from_secret(args.secret_id)
    applied = apply(conninfo, args.directory)
    print(f"{args.directory}: applied {', '.join(applied) if applied else 'nothing (up to date)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
