"""heed.training: the trainer. It reads `tokens/` Parquet only (schema in the README).

Empty until the trainer issue lands."""
