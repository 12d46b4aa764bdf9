"""The stage projection: where each relationship stands, and the funnel."""
