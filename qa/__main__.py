"""``python -m qa …`` is the ``qa`` command."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
