"""``python -m qa.train``: the same as ``qa train`` (the code is :mod:`qa.devtools.train`)."""

from .devtools.train import main

if __name__ == "__main__":
    raise SystemExit(main())
