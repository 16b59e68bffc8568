"""Time-to-event estimators: Kaplan-Meier, log-rank, Cox, parametric and interval-censored fits."""
