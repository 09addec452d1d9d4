"""Atelier's domain core: settings, schema, recipes, services and the queue.

This package never imports discord, fastapi, torch, diffusers or transformers, so that every
process (bot, gallery, workers, CLI) can share it without dragging in another's dependencies.
"""

__version__ = "0.1.0"
