"""The web gallery: a thin FastAPI process that shows renders and submits new ones.

It is deliberately thin: every rule about jobs lives in `atelier`, so the gallery only turns HTTP
into calls on atelier's services and their results into pages or JSON. It never imports torch,
diffusers, transformers or discord, so it starts on a machine without the render stack.
"""
