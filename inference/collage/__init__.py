"""The collage, model-side: pasted pieces made to belong to the scene and kept recognisable.

- :mod:`~inference.collage.refine`: the classical refine (light, colour, edges, shadow harmonised; the piece's
  own detail kept).
- :mod:`~inference.collage.identity`: after any backend refines a collage, each piece keeps as much of itself
  as its ``identity`` says.

No GPU library is imported here (``tests/check_layers.py``).
"""
