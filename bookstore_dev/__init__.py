"""Development tooling shared by the tests and the local run: a PostgreSQL server from PyPI,
the template as data, and the provisioning of databases, roles, migrations and secrets.
None of this is deployed; the functions never import it."""
