"""Every architecture of the library: :data:`MODELS`, the registry the backbone families fill.

Each family module declares its architectures as ``ENTRIES``; this is the one place that adds
them to the registry. A user adds their own with :func:`recalib.registry.register_model`. The
catalog sits below :mod:`recalib.record` (a record looks up its architecture's nominal input
size here), which is why it is a module of its own and not the package's ``__init__``.
"""
from __future__ import annotations

from recalib.entries import ArchEntry, Registry
from recalib.models.cc_vgg import ENTRIES as CC_VGGS
from recalib.models.cifar_resnet import ENTRIES as CIFAR_RESNETS
from recalib.models.densenet import ENTRIES as DENSENETS
from recalib.models.efficientnet import ENTRIES as EFFICIENTNETS
from recalib.models.mobilenet_v3 import ENTRIES as MOBILENETS
from recalib.models.regnet import ENTRIES as REGNETS
from recalib.models.resnet import ENTRIES as RESNETS
from recalib.models.shufflenet import ENTRIES as SHUFFLENETS

__all__ = ["MODELS", "list_models", "arch_entry"]

MODELS: Registry[ArchEntry] = Registry("model", (*RESNETS, *CIFAR_RESNETS, *DENSENETS, *SHUFFLENETS, *CC_VGGS,
                                                   *EFFICIENTNETS, *MOBILENETS, *REGNETS))


def list_models() -> list[str]:
    """Every registered architecture name, sorted."""
    return MODELS.names()


def arch_entry(name: str) -> ArchEntry:
    """The registry entry (paper, nominal input size, dataset) of architecture ``name``."""
    return MODELS.get(name)
