"""LocalStack ready hook: the Secrets Manager secrets the functions read their database
credentials from (the RDS secret layout), pointing at the compose file's PostgreSQL.

LocalStack runs `.py` hooks with its own interpreter, which has boto3. Idempotent: an existing
secret gets the current value. The names are the template's `*DbSecretName` defaults.
"""

import json
import os

import boto3

SECRETS = {
    "livros": "bookstore/livros/db",
    "ordens": "bookstore/ordens/db",
    "pagamentos": "bookstore/pagamentos/db",
}


def main() -> None:
    client = boto3.client(
        "secretsmanager",
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL", "http://localhost:4566"),
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )
    for service, secret_id in SECRETS.items():
        value = json.dumps(
            {
                "engine": "postgres",
                "host": os.environ.get("BOOKSTORE_DB_HOST", "postgres"),
                "port": int(os.environ.get("BOOKSTORE_DB_PORT", "5432")),
                "username": service,
                "password": os.environ[f"{service.upper()}_DB_PASSWORD"],
                "dbname": service,
            }
        )
        try:
            client.put_secret_value(SecretId=secret_id, SecretString=value)
        except client.exceptions.ResourceNotFoundException:
            client.create_secret(Name=secret_id, SecretString=value)
        print(f"bookstore: secret {secret_id} ready")


main()
