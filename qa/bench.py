"""``python -m qa.bench``: the same as ``qa bench`` (the code is :mod:`qa.devtools.bench`)."""

from .devtools.bench import main

if __name__ == "__main__":
    raise SystemExit(main())
