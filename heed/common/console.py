"""The terminal: data (tables, JSON, SQL results) goes to stdout, messages and progress to
stderr, so `heed audit summary OUT > file` holds the table and nothing else."""

from __future__ import annotations

from rich.console import Console

# soft_wrap: messages and paths stay on one line, whatever the terminal width.
messages = Console(stderr=True, soft_wrap=True)
data = Console(soft_wrap=True)
