"""Entry point of the bundled `enclave` executable: the same `main` as the console script."""

import sys

from engine.cli import main

if __name__ == "__main__":
    sys.exit(main())
