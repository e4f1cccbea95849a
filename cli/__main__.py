"""`python -m cli` runs the `autointel` command line."""

import sys

from cli import main

sys.exit(main())
