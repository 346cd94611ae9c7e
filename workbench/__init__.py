"""Release SLA Workbench: recompute, reconcile and report release SLAs from raw evidence."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
