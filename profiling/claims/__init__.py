"""The claims audit: the papers' parameter and FLOP figures, measured, derived and judged."""
