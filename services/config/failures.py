"""What every room raises when Rapport must stop and say why: a sentence, never a traceback.

A `Failure` is about the world (a port in use, no NATS, a store locked by another process, a
stream configured otherwise), and its message says what to do. The CLI prints it and exits 1.
A bug is not a `Failure`: it stops with its traceback.
"""

from __future__ import annotations


class Failure(RuntimeError):
    """Rapport cannot go on; the message says why and what to do."""
