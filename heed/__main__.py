"""`python -m heed ...`: the `heed` command."""

import sys

from heed.cli import main

sys.exit(main())
