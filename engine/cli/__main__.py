"""`python -m engine.cli …` runs the same entry point as the `enclave` console script."""

import sys

from engine.cli import main

sys.exit(main())
