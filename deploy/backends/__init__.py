"""Runtime backends behind :class:`deploy.runner.Runner`; each module imports its runtime lazily."""
