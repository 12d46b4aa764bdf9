"""The integration tests share the root conftest's fixtures (server, services, gateway)."""
