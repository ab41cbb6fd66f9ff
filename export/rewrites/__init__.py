"""Exact inference rewrites applied by :func:`export.optimize.optimize_model` (see there)."""
