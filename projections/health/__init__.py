"""The health projection: an explainable 0-100 score per relationship, and who is due."""
