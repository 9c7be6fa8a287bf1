"""How long Ordem de Compra waits for a dependency in the integration tests (the template says 2 s;
a little more here, where cold environments share two cores with the test run)."""

DEPENDENCY_TIMEOUT_SECONDS = 3.0
