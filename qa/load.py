"""``python -m qa.load``: the same as ``qa load`` (the code is :mod:`qa.devtools.load`)."""

from .devtools.load import main

if __name__ == "__main__":
    raise SystemExit(main())
