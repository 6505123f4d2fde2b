"""How bad a diagnostic is: the one type both the code catalog and the collector need.

Its own module so that `codes` (the catalog) and `diagnostics` (the collector,
which looks codes up) both import it, and neither imports the other's importer.
"""

from __future__ import annotations

from enum import Enum


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
