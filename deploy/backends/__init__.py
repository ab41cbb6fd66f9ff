"""Runtime backends behind :class:`recalib.deploy.runner.Runner`; each module imports its runtime lazily."""
