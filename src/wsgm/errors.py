"""The one exception type for errors a user can cause (bad path, bad size, corrupt file).

The CLI prints its message on one line, without a traceback.
"""

from __future__ import annotations

__all__ = ["WSGMError"]


class WSGMError(Exception):
    """An error caused by the user's input; the message names the bad value and what is allowed."""
