"""The layers dock (``panel``): the document's layers top-first, their properties, and the layer actions.

The panel holds no layer state of its own. ``LayerListModel`` reads the document on every
``data()`` call and follows ``bridge.layersChanged`` by diffing the layer ids (so a single
insert, removal or move keeps the selection and scroll position); every change the user
makes goes through a ``Document`` method, so it is one undoable step.

Here: ``model`` (LayerListModel), ``delegate`` (how a row looks), ``list_view``, ``thumbnails``
and ``panel`` (LayersPanel).
"""

from desktop.panels.layers.delegate import LayerDelegate
from desktop.panels.layers.list_view import LayerListView
from desktop.panels.layers.model import LAYER_MIME, LayerIdRole, LayerListModel, LayerRole
from desktop.panels.layers.panel import LayersPanel
from desktop.panels.layers.thumbnails import render_thumbnail

__all__ = ["LayersPanel", "LayerListModel", "LayerDelegate", "LayerListView", "render_thumbnail",
           "LayerIdRole", "LayerRole", "LAYER_MIME"]
