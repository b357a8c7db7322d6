"""Who may change the corpus: an operator, never any visitor.

With ``QA_ADMIN_TOKEN`` set, every change (the app's upload and remove, ``/add_document``,
``/remove_document``) needs that token, compared in constant time. Without one, changes
are allowed only while the app listens on loopback (one person on their own machine);
listening beyond it, they are refused and the app hides its upload.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from ..errors import AccessError

__all__ = ["ChangePolicy", "is_loopback"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or name the app listens on) is this machine only."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name or 0.0.0.0-like wildcard: reachable from elsewhere


@dataclass(frozen=True)
class ChangePolicy:
    """Whether corpus changes are allowed, and with which token."""

    #: The operator's token (``QA_ADMIN_TOKEN``); empty: none set.
    token: str = ""
    #: Whether the app listens on loopback only.
    loopback: bool = True

    @property
    def enabled(self) -> bool:
        """Whether anyone may change the corpus at all (with the token where one is set)."""
        return bool(self.token) or self.loopback

    @property
    def needs_token(self) -> bool:
        return bool(self.token)

    def check(self, given: str | None) -> None:
        """Raise :class:`AccessError` unless a change may be made with ``given``."""
        if self.token:
            if not isinstance(given, str) or not hmac.compare_digest(given.encode(), self.token.encode()):
                raise AccessError("a missing or wrong admin token: nothing was changed")
        elif not self.loopback:
            raise AccessError(
                "changing the corpus is switched off: the app listens beyond this machine and "
                "QA_ADMIN_TOKEN is not set; nothing was changed"
            )
