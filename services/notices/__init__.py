"""Notices: the outbox publisher, the touch-due scheduler, and reading the notice stream."""
