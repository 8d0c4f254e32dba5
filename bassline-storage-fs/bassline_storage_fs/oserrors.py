"""Operating-system errors as storage errors: the errno decides the code."""

from __future__ import annotations

import errno

from bassline.storage import ErrorCode, StorageError
from bassline_storage_fs.fsutil import NotRegularFile, StoreReplaced

__all__ = ["from_os_error"]

_CODES: dict[int, tuple[ErrorCode, bool]] = {
    errno.EACCES: (ErrorCode.PERMISSION, False),
    errno.EPERM: (ErrorCode.PERMISSION, False),
    errno.EROFS: (ErrorCode.PERMISSION, False),
    errno.ENOSPC: (ErrorCode.LIMIT_EXCEEDED, False),
    errno.EDQUOT: (ErrorCode.LIMIT_EXCEEDED, False),
    errno.EFBIG: (ErrorCode.LIMIT_EXCEEDED, False),
    errno.ENAMETOOLONG: (ErrorCode.LIMIT_EXCEEDED, False),
    errno.EMFILE: (ErrorCode.LIMIT_EXCEEDED, True),
    errno.ENFILE: (ErrorCode.LIMIT_EXCEEDED, True),
    errno.ENOMEM: (ErrorCode.LIMIT_EXCEEDED, True),
    errno.EAGAIN: (ErrorCode.TIMEOUT, True),
    errno.EINTR: (ErrorCode.TIMEOUT, True),
    errno.ETIMEDOUT: (ErrorCode.TIMEOUT, True),
    errno.ESTALE: (ErrorCode.CONNECTION, True),
    errno.ENOTCONN: (ErrorCode.CONNECTION, True),
    errno.EHOSTDOWN: (ErrorCode.CONNECTION, True),
    errno.EHOSTUNREACH: (ErrorCode.CONNECTION, True),
    errno.ENETDOWN: (ErrorCode.CONNECTION, True),
    errno.ENETUNREACH: (ErrorCode.CONNECTION, True),
    errno.ECONNRESET: (ErrorCode.CONNECTION, True),
    errno.ENOTDIR: (ErrorCode.INVALID, False),
    errno.EISDIR: (ErrorCode.INVALID, False),
}


def from_os_error(exc: OSError, doing: str) -> StorageError:
    """A StorageError for ``exc`` met while ``doing`` (e.g. "fsync log /data/log").

    Permission problems (EACCES, EPERM, EROFS) are PERMISSION; a full disk, quota, file
    size or name length limit is LIMIT_EXCEEDED; interrupted or would-block calls are
    transient TIMEOUTs; a vanished network file system is a transient CONNECTION error;
    a path of the wrong type is INVALID. Anything else (EIO above all) means the store's
    files cannot be trusted: CORRUPTION. So does a store directory removed or replaced
    while open (:class:`StoreReplaced`), and a file of it that is not a regular file
    (:class:`NotRegularFile`).
    """
    if isinstance(exc, StoreReplaced | NotRegularFile):
        return StorageError(
            ErrorCode.CORRUPTION, f"cannot {doing}: {exc}", transient=False, cause=exc
        )
    code, transient = _CODES.get(exc.errno or 0, (ErrorCode.CORRUPTION, False))
    reason = exc.strerror or str(exc)
    name = errno.errorcode.get(exc.errno or 0, "?")
    return StorageError(code, f"cannot {doing}: {reason} ({name})", transient=transient, cause=exc)
