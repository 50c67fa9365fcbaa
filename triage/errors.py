"""The one shape of the problems a person must act on: a code naming the i18n message and the
parameters that fill it in (`t(error.code, lang, **error.params)`). Plain Python, so any module,
the desk's start path too, can raise it. Each layer names its own (DbError, ExportError, …) so a
caller catches only its own; within one, callers tell problems apart by `code`."""

from __future__ import annotations

from typing import Any


class CodedError(Exception):
    """A problem a person must act on: `code` names the i18n message, `params` fill it in."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(f"{code} {params}")
        self.code = code
        self.params = params


def os_cause(error: BaseException) -> str:
    """Why a file could not be used, as a word the messages name their advice by: "permission",
    "read_only", "not_folder", "is_folder", "missing", "full", or "other"."""
    import errno

    number = getattr(error, "errno", None)
    for cause, numbers in (
        ("permission", (errno.EACCES, errno.EPERM)),
        ("read_only", (errno.EROFS,)),
        ("not_folder", (errno.ENOTDIR,)),
        ("is_folder", (errno.EISDIR,)),
        ("missing", (errno.ENOENT,)),
        ("full", (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)),
    ):
        if number in numbers:
            return cause
    return "other"
