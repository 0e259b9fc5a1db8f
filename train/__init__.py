"""Training pipeline for Avatar Studio: render -> train -> evaluate -> export.

Each stage is a ``python -m train.<stage>`` command. This package depends on
``avatar_studio``; the runtime library never imports it.

Every stage is an entry point, and this package runs before any of them imports torch: the
one CPU tuning call is made here (OMP_WAIT_POLICY must precede torch; see avatar_studio.cpu).
"""
from avatar_studio.cpu import tune_cpu

tune_cpu()
