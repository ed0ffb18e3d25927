"""The embedded sample crawl (crawl-data/, robots-2025-01/) in Common Crawl's layout,
and the scripts that generate it."""
