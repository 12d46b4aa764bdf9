"""The dashboard: server-rendered pages over the same NATS queries as the HTTP API."""
