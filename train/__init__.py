"""Training pipeline for Avatar Studio: render -> train -> evaluate -> export.

Each stage is a ``python -m train.<stage>`` command. This package depends on
``avatar_studio``; the runtime library never imports it.
"""
import os

# Must precede the first torch import: on small shared-CPU VMs OpenMP's busy-wait
# makes torch up to 25x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
