"""Training of Atelier's bundled tiny text-to-image model (issue 5).

No model hub is reachable where Atelier is installed or tested, so the project trains its own tiny model with the
real SD1.x architecture on procedurally generated, captioned pictures and ships it in `models/`. Run
`python -m workers.training --help`; see `models/MODEL_CARD.md` for what it knows and how well.
"""
