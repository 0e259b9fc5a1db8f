"""Avatar Studio: design cute avatars with a trained conditional generator."""
import os

# Must precede the first torch import: on small shared-CPU machines (2-vCPU Spaces, these
# VMs) OpenMP's busy-wait makes torch many times slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from avatar_studio.studio import AvatarStudio  # noqa: E402
from avatar_studio.generator import WeightsError  # noqa: E402

__all__ = ["AvatarStudio", "WeightsError"]
__version__ = "0.1.0"
