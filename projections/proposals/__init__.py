"""The proposals projection: partnership proposals, their lifecycle and their readiness."""
