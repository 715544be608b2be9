"""Local DeepSpeed training with exact, crash-safe resume.

Public API: :func:`train` (run or resume a recipe on any record source), :func:`train_from_vault`
(what ``appliance train`` calls), :func:`load_recipe`, :class:`Recipe`, the record-source
protocol (:class:`RecordSource`, :class:`InMemorySource`, :class:`VaultSource`) and
:func:`find_resumable` (the checkpoint ``--resume`` would pick).  Heavy libraries (torch, deepspeed,
transformers) are imported inside functions only.
"""

from appliance.train.checkpoint import find_resumable
from appliance.train.data import InMemorySource, RecordSource, VaultSource
from appliance.train.recipe import Recipe, load_recipe
from appliance.train.run import train, train_from_vault

__all__ = [
           "InMemorySource",
           "Recipe",
           "RecordSource",
           "VaultSource",
           "find_resumable",
           "load_recipe",
           "train",
           "train_from_vault",
]
