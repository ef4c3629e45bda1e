"""What people on the page may change: whether documents can be added and removed, and the limits."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .uploads import UPLOADS, UploadLimits

#: Why changes are refused on a server started with ``--read-only``.
READ_ONLY = "this server is read-only (qa serve --read-only): documents cannot be added or removed here"
#: Why no change is allowed where the index itself may not be written.
INDEX_READ_ONLY = (
    "this index is read-only here (another user's, or on a read-only disk): documents cannot be added or removed"
)
#: Why changes are refused on a server that anyone on the network can reach without a password.
OPEN_NETWORK = (
    "this server is reachable beyond this machine without --auth: documents cannot be added or removed "
    "until it is started with --auth USER:PASS"
)


@dataclass(frozen=True)
class Access:
    """What the page may change.

    Attributes:
        changes: Whether documents may be added and removed from the page.
        why_not: Why not, said to the person who tries (``""`` when they may).
        limits: Size and count limits of one upload.
        folder: The folder inside the corpus that receives uploads.

    """

    changes: bool = True
    why_not: str = ""
    limits: UploadLimits = field(default_factory=UploadLimits)
    folder: str = UPLOADS

    def for_index(self, writable: bool) -> Access:
        """The same access, with changes off where the index may not be written (another user's, a read-only mount)."""
        return self if writable or not self.changes else replace(self, changes=False, why_not=INDEX_READ_ONLY)

    @classmethod
    def decide(
        cls, *, read_only: bool, open_network: bool, limits: UploadLimits | None = None, folder: str = UPLOADS
    ) -> Access:
        """The access of a server: no changes when read-only, or when open to the network without a password."""
        why = READ_ONLY if read_only else OPEN_NETWORK if open_network else ""
        return cls(not why, why, limits or UploadLimits(), folder)
