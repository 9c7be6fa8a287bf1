"""Code shared by the three Bookstore services, packaged by SAM as the `SharedLayer` Lambda layer.

Settings, database access, the service-to-service HTTP client, the OpenTelemetry bootstrap and the
REST resolver set-up live here so that each service keeps only its own domain logic.
"""
