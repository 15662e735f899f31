"""报送台: the year's collection — units upload their own returns through personal links.

Modules: schema (SQLite tables, migrations), store (rows, files by hash, audit, backup),
checking (one upload read and checked), service (the
workflow), outputs (links, notice, 催报名单, template, aggregate, export/import), command (CLI).
"""

from ..vocab import Decision, UnitState, UploadSource
from .service import Desk
from .store import DeskError

__all__ = ["Decision", "Desk", "DeskError", "UnitState", "UploadSource"]
