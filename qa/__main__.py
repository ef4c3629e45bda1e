"""Allow ``python -m qa``."""

from .cli import main

raise SystemExit(main())
