"""`python -m services` is the `rapport` command."""

from services.cli import main

main()
