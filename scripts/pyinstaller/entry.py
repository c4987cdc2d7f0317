"""PyInstaller entry point of the single-file ``orchastration`` executable."""

import multiprocessing
import sys

from orchastration.cli import entry

if __name__ == "__main__":
    # A frozen program re-executes itself for multiprocessing children; this makes them run the child.
    multiprocessing.freeze_support()
    entry()  # as the console script: main(), then a fast exit
    sys.exit(0)  # not reached
