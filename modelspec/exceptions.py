"""The root of every exception modelspec raises.

One base class, so that a caller can catch everything the project raises on
purpose (``except ModelspecError``) while real bugs (``TypeError``, ...) still
surface.  It sits at the bottom of the package: every layer may import it.
"""

from __future__ import annotations


class ModelspecError(Exception):
    """Base of every project exception: user-facing errors and internal control flow alike."""
