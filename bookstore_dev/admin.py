"""The catalogue's writes, as its admin: requests signed (SigV4) with the admin identity that the
local cloud writes at start (`.local/admin-credentials`, profile bookstore-admin with `make run`).

    python -m bookstore_dev.admin livro --titulo "Dom Casmurro" --autor "Machado de Assis" --preco 39.90 --estoque 10
    make livro ARGS='--titulo "Dom Casmurro" --preco 39.90 --estoque 10'

The same, with curl: curl --aws-sigv4 "aws:amz:us-east-1:execute-api" --user "KEY:SECRET" \\
    -H 'Content-Type: application/json' -d '{"titulo": …}' http://127.0.0.1:3000/livros
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import httpx

from bookstore_dev.clients import DEFAULT_CREDENTIALS, admin_auth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--credentials", type=Path, default=DEFAULT_CREDENTIALS)
    parser.add_argument("--profile", help="default: the file's only profile")
    commands = parser.add_subparsers(dest="command", required=True)
    livro = commands.add_parser("livro", help="add a book (POST /livros)")
    livro.add_argument("--titulo", required=True)
    livro.add_argument("--autor")
    livro.add_argument("--preco", required=True, help="e.g. 39.90")
    livro.add_argument("--estoque", type=int, required=True)
    args = parser.parse_args(argv)
    try:
        admin = admin_auth(args.credentials, args.profile)
    except RuntimeError as error:
        print(f"admin: {error}; start the local cloud with `make run`", file=sys.stderr)
        return 2
    book = {"titulo": args.titulo, "preco": args.preco, "estoque": args.estoque} | ({"autor": args.autor} if args.autor else {})
    try:
        response = httpx.post(f"{args.url}/livros", json=book, auth=admin, timeout=60)
    except httpx.HTTPError as error:
        print(f"admin: no Bookstore answers on {args.url} ({error})", file=sys.stderr)
        return 2
    print(f"{response.status_code} {json.dumps(response.json(), ensure_ascii=False)}")
    return 0 if response.is_success else 1


if __name__ == "__main__":
    sys.exit(main())
