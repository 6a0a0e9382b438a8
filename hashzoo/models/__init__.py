"""Model base classes shared by every method."""

from hashzoo.models.hashing_model import HashingModel

__all__ = ["HashingModel"]
