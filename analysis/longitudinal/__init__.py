"""Longitudinal models: trajectories, linear mixed models, MMRM, responder rates."""
