"""Parameter and FLOP counting: fvcore op handles, named conventions, scopes, per-model profiles."""
