"""Pure folds (state, event) -> state, and their SQLite persistence."""
