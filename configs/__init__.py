"""The configs that ship with heed: `heed corpus` reads sample.toml when given none."""
