"""``python -m qa.eval``: the same as ``qa eval`` (the code is :mod:`qa.devtools.eval`)."""

from .devtools.eval import main

if __name__ == "__main__":
    raise SystemExit(main())
