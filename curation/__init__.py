"""heed.curation: the pipeline. Its rooms: crawl/ (listings, fetching, WARC reading), optout/,
text/ (extraction, tokenization), dedup/, run/ (the driver, executors, one shard, the manifest),
audit/ (explain, summary, SQL, rethreshold, the report). It knows filters only by name, through
the stage registry (heed.curation.registry). ARCHITECTURE.md maps it."""
