"""Every error the product raises on purpose, rooted in one class: :class:`QAError`.

Its message is one line for the user. The CLI and the app catch ``QAError`` and show that
line; anything else is a bug and shows its traceback. Each error also keeps the builtin
it refines as a base (a bad input is a ``ValueError``, an unusable index a
``RuntimeError``), so code that caught those keeps working; none shadows a builtin.
"""

from __future__ import annotations

__all__ = [
    "AccessError",
    "ConfigError",
    "DocumentError",
    "FileTooLargeError",
    "IndexCorruptError",
    "IndexMissingError",
    "IndexStaleError",
    "IndexUnavailableError",
    "InputError",
    "InputTypeError",
    "QAError",
    "StoreUnavailableError",
    "UnknownDocumentError",
    "UnsupportedFileError",
]


class QAError(Exception):
    """Root of every error the product raises on purpose."""


class ConfigError(QAError, ValueError):
    """A setting (``QA_*`` or :class:`qa.Settings`) that is not valid."""


class InputError(QAError, ValueError):
    """A question, history, ``k`` or document list that breaks the input rules."""


class InputTypeError(QAError, TypeError):
    """An argument of the wrong type (a question that is not a str…)."""


class DocumentError(QAError, ValueError):
    """A file that cannot be read as a document, or a corpus change that cannot be made.
    ``name`` is the file's name and ``reason`` a short code of what is wrong (``encrypted``,
    ``unreadable``, ``no_text``, ``empty``, ``bomb``, ``not_text``, ``duplicate``,
    ``unsupported``, ``too_large``), so that an interface can say it in its own words."""

    def __init__(self, message: str, *, name: str = "", reason: str = ""):
        super().__init__(message)
        self.name, self.reason = name, reason


class AccessError(QAError, PermissionError):
    """A change of the corpus without the right to make it (a missing or wrong admin
    token, or changes switched off); nothing is changed."""


class UnsupportedFileError(DocumentError):
    """A file of a type that cannot be read (see ``SUPPORTED_SUFFIXES``)."""

    def __init__(self, message: str, *, name: str = ""):
        super().__init__(message, name=name, reason="unsupported")


class FileTooLargeError(DocumentError):
    """A file over the size limit (``QA_MAX_DOCUMENT_MB``); ``limit_mb`` says which."""

    def __init__(self, message: str, limit_mb: int, *, name: str = ""):
        super().__init__(message, name=name, reason="too_large")
        self.limit_mb = limit_mb


class UnknownDocumentError(QAError, ValueError):
    """A document id that is not in the index (or matches several)."""


class IndexUnavailableError(QAError, RuntimeError):
    """The index cannot be used; the message names the command that fixes it."""


class IndexMissingError(IndexUnavailableError):
    """There is no index yet."""


class IndexCorruptError(IndexUnavailableError):
    """The index's files are damaged or unreadable."""


class IndexStaleError(IndexUnavailableError):
    """The index was built by another chunker, model or format."""


class StoreUnavailableError(IndexUnavailableError):
    """The store's service (a Milvus server) cannot be reached or failed."""
