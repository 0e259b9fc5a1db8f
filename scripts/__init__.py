"""Maintenance scripts (``python -m scripts.<name> --help``): README assets.

Entry points: the package tunes the CPU before any of them imports torch.
"""
from avatar_studio.cpu import tune_cpu

tune_cpu()
