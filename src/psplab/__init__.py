"""psplab: process -> structure -> property learning for alloys.

Data flows one way: recipe -> sim -> measure -> strength -> generate -> models -> causal ->
optimize -> next recipe. ``psplab.data`` is the base layer that every module may use.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
