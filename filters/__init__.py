"""heed.filters: the Filter interface, its registry, and heed's own filters (language ID,
toxicity, PII), each loading its own model or word list."""
