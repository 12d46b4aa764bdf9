"""`rapport bench`: the benchmark driver and the baselines it compares Rapport's projectors to."""
