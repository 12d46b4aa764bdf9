"""Processes at the edges: NATS, JetStream, SQLite, HTTP, the CLI and the embedded runtime."""
