"""Bookstore's own development tooling: the services read from the template (services.py), the
one provisioning of databases, roles, migrations and secrets (provision.py), sample data, and
Bookstore's start-up hook for the local cloud (startup.py). None of this is deployed; the
functions never import it, and the local cloud never imports it (it is handed the hook)."""
