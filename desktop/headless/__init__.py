"""The Qt-free part of ``desktop/``: what the window and the ``akapen`` command share.

``cli`` (the ``akapen`` command), ``edit_request`` (document → request, result → layer),
``terminal`` (progress bar and Ctrl+C on a terminal) and ``display`` (can the window open here,
asked before Qt starts). Nothing here imports Qt or another ``desktop`` module, except that
``cli`` starts ``desktop.app`` when it opens the window; ``tests/check_layers.py`` holds it to
that, so ``import desktop.headless.cli`` loads no Qt.
"""
