"""heed.curation: crawl listing, WARC reading, opt-out, extraction, the stage chain, executors,
Parquet writers, audit and the command line. It knows filters only by name, through
`heed.filters.registry`."""
