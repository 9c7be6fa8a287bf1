"""Runs the whole Bookstore on this machine with nothing but Python: a real PostgreSQL (data kept
under .local/postgres), Secrets Manager from moto, and every route of template.yaml on
http://127.0.0.1:3000, each served by its real handler.

    python -m bookstore_dev.serve [--port 3000]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

import boto3
from moto import mock_aws

from bookstore_dev import template
from bookstore_dev.gateway import Gateway
from bookstore_dev.postgres import EmbeddedPostgres
from bookstore_dev.provision import provision
from bookstore_dev.seed import seed_books

LOCAL = template.ROOT / ".local"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)

    # The functions look for AWS where the template's deployment would put it: here, moto.
    os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1")
    os.environ.update({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"})  # moto accepts any
    os.environ.setdefault("OTEL_TRACES_EXPORTER", "none")
    os.environ.setdefault("OTEL_METRICS_EXPORTER", "none")
    base_url = f"http://127.0.0.1:{args.port}"
    os.environ["ORDENS_LIVROS_API_URL"] = base_url
    os.environ["ORDENS_PAGAMENTOS_API_URL"] = base_url

    postgres = EmbeddedPostgres(LOCAL / "postgres")
    postgres.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    try:
        with mock_aws():
            provisioned = provision(postgres.admin_conninfo, postgres.host, postgres.port, boto3.client("secretsmanager"))
            for name, item in provisioned.items():
                os.environ[f"{name.upper()}_DB_SECRET_NAME"] = item.secret_name
            added = seed_books(provisioned["livros"].conninfo)
            try:
                gateway = Gateway(template.routes(), port=args.port)
            except OSError as error:
                print(f"error: cannot listen on 127.0.0.1:{args.port}: {error.strerror}", file=sys.stderr)
                return 1
            gateway.start()
            print(f"Bookstore on {base_url}  (PostgreSQL 127.0.0.1:{postgres.port}, data in {postgres.data_dir})")
            if added:
                print(f"  seeded {added} sample books")
            for route in template.routes():
                print(f"  {route.method:6} {base_url}{route.path:34} -> {route.function}")
            print("Ctrl-C stops everything.", flush=True)
            stopped.wait()
            gateway.stop()
    finally:
        postgres.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
