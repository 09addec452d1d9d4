"""The render worker: the only package that imports torch, diffusers and transformers."""
