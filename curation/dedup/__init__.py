"""Exact, near (MinHash LSH) and URL deduplication, as pure functions over Parquet files.

settings.py    DedupSettings: what to look for, how, and which copy to keep
minhash.py     normalisation, shingles, MinHash signatures and LSH band keys
signatures.py  `signatures(docs, settings)`: one row of keys per document of a shard
components.py  connected components by large-star / small-star rounds
corpus.py      the corpus step's task functions (plain functions over Parquet files)
plan.py        DedupPlan: which rounds and tasks exist, read from the files on disk
stage.py       the `dedup` stage: the corpus step between the per-shard phases
"""
