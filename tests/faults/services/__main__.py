"""`python -m faults.services model-server --port N` or `skewed-worker --skew S` (see processes)."""

import sys

from faults.services.processes import main

sys.exit(main())
