"""Avatar Studio: design cute avatars with a trained conditional generator.

    import avatar_studio
    avatar_studio.tune_cpu()                 # optional, before torch: see avatar_studio.cpu
    studio = avatar_studio.AvatarStudio.from_pretrained()

Importing the package changes no process-wide state and does not import torch; the names
below load their modules on first use.
"""
from avatar_studio.cpu import tune_cpu

__all__ = ["AvatarStudio", "WeightsError", "tune_cpu"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "AvatarStudio":
        from avatar_studio.studio import AvatarStudio
        return AvatarStudio
    if name == "WeightsError":
        from avatar_studio.weights import WeightsError
        return WeightsError
    raise AttributeError(f"module 'avatar_studio' has no attribute {name!r}")
