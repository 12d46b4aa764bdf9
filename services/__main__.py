"""`python -m services` is the `rapport` command."""

from services.entry import main

main()
