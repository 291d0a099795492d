"""The canvas view: the widget that shows the document and hands input to the active tool
(``canvas_view``), the QImage caches of the projections it paints from (``cache``), and what it
draws over and under them (``painting``)."""
