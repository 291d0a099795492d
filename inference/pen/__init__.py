"""The red pen, model-side: what Akapen does with the marks a user draws so that a model reads them.

- :mod:`~inference.pen.annotations`: the marks (vectors) drawn into the input, made into a mask, a reference
  image or a phrase.
- :mod:`~inference.pen.strategies`: how each model family reads the pen, one row per family
  (wording in ``resources/marks.json``).
- :mod:`~inference.pen.cleanup`: marks a model copied into its answer, found and taken out.
- :mod:`~inference.pen.alignment`: the answer registered to the input (drift), its colours matched, the input's
  own pixels kept where nothing changed.

No GPU library is imported here (``tests/check_layers.py``).
"""
