"""What accel's process-wide tunings at import (malloc.py, blas.py) check before touching anything."""

from __future__ import annotations

import os
import sys


def opted_out(switch: str, user_settings: tuple) -> str | None:
    """Why a tuning must leave its library alone, or None: `switch`=system (accel's own opt-out),
    one of `user_settings` in the environment (the library reads the user's own setting itself),
    or a platform other than Linux."""
    if os.environ.get(switch, "").strip().lower() == "system":
        return f"{switch}=system"
    user = [name for name in user_settings if name in os.environ]
    if user:
        return f"{user[0]} is set by the user"
    if not sys.platform.startswith("linux"):
        return f"not Linux ({sys.platform})"
    return None
