"""Time-to-event estimators: Kaplan-Meier, log-rank, Cox, parametric and interval-censored fits,
competing risks (Aalen-Johansen cumulative incidence, Gray's test, Fine-Gray)."""
