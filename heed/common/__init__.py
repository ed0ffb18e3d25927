"""Helpers every part of heed may use, and that use no other part of heed: file hashing and
atomic writes (files), the tokens contract between curation and training (tokens), quantile
ranks with a deterministic tie-break (ranks), config-table checking (tables) and the terminal
(console)."""
