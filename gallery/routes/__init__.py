"""Routes, one module per audience: pages for browsers, JSON for programs, SSE for live job
pages, and image files. Each stays small and leaves rules to `atelier.services`."""
