"""User-facing errors: a mistake by the user (bad name, bad value, bad file) rather than a bug.

The CLI turns a `UserError` into one line on stderr and exit code 2; anything else is a bug and keeps
its traceback.
"""


def one_line(what: object, limit: int = 200) -> str:
    """`what` (an exception, or text quoted from a file) for an error line: one line, at most `limit` characters."""
    return " ".join(str(what).split())[:limit]


class UserError(Exception):
    """A mistake the user can fix; its message is the whole explanation."""


class DataError(UserError):
    """A data file or folder that cannot be read: the message names the file and the problem."""


class UnsafeFileError(UserError):
    """A file that would run code if loaded (a pickle asking for something other than plain arrays)."""


class DivergedError(UserError):
    """The loss became NaN or infinite (usually too large a learning rate); the last good checkpoint is kept."""


class WriteError(UserError):
    """A run's files could not be written (full disk, quota, read-only or forbidden folder); its newest checkpoint
    is intact."""


class Interrupted(Exception):
    """SIGINT arrived during training; a checkpoint was written."""
