"""Entry point for ``python -m orchastration``."""

import sys

from orchastration.cli import main

if __name__ == "__main__":
    sys.exit(main())
