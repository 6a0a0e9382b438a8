"""Model base classes shared by every method, and the objects their training hooks return."""

from hashzoo.models.hashing_model import HashingModel
from hashzoo.models.hooks import Prepared, Stage, StageContext

__all__ = ["HashingModel", "Prepared", "Stage", "StageContext"]
