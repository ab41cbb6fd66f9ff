"""Every architecture of the library: :data:`MODELS`, the registry the backbone families fill.

Each family module declares its architectures as ``ENTRIES``; this is the one place that adds
them to the registry. A user adds their own with :func:`recalib.registry.register_model`. The
catalog sits below :mod:`recalib.record` (a record looks up its architecture's nominal input
size here), which is why it is a module of its own and not the package's ``__init__``.
"""
from __future__ import annotations

from recalib.entries import ArchEntry, Registry
from recalib.models import cc_vgg, cifar_resnet, densenet, resnet, shufflenet

__all__ = ["MODELS", "list_models", "arch_entry"]

MODELS: Registry[ArchEntry] = Registry("model", (*resnet.ENTRIES, *cifar_resnet.ENTRIES, *densenet.ENTRIES,
                                                 *shufflenet.ENTRIES, *cc_vgg.ENTRIES))


def list_models() -> list[str]:
    """Every registered architecture name, sorted."""
    return MODELS.names()


def arch_entry(name: str) -> ArchEntry:
    """The registry entry (paper, nominal input size, dataset) of architecture ``name``."""
    return MODELS.get(name)
