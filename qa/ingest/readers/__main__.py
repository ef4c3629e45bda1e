"""``python -m qa.ingest.readers IN OUT``: a reader worker (see :mod:`.worker`), started by :mod:`.sandbox`."""

import sys

from .worker import main

main(sys.argv[1:])
