"""The latency audit: what each block costs per runtime, beside its parameter and FLOP overheads."""
