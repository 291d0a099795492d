"""OpenRaster (.ora), Akapen's native format, readable by Krita, GIMP and MyPaint.

Layout (per the OpenRaster spec): ``mimetype`` first and stored, ``stack.xml`` (layers
topmost first), ``data/<id>.png`` with each layer's rendered pixels, ``mergedimage.png`` and
``Thumbnails/thumbnail.png``. Akapen-only data lives in attributes of the ``akapen``
namespace and in members under ``akapen/``: piece originals and transforms, annotation
vectors, roles, provenance, references, the selection, document metadata and the training
pairs collected in the Train panel (``pairs``: ``akapen/training/``). Other
programs see correct pixels; Akapen gets its document back exactly.

Writing: ``save_ora`` (atomic, keeps ``NAME.ora~``) and ``write_ora`` encode the layer PNGs
in a thread pool (fast Up-filter/RLE PNGs) and reuse the encoded bytes of layers whose
revision has not changed since the last save. ``freeze(doc)`` takes what a save needs on the
calling thread (cached bytes of unchanged layers, copies of the others) so that
``frozen.write(f)`` can run in the background (the recovery store does this).

Reading is defensive: member count and size limits, bounded reads that do not trust the zip
headers, pixel caps checked on every PNG header (and on their sum) before decoding, no DTDs
or entities, and every ``src`` must name a plain member of the archive. Every failure is an
``OraError`` with a one-line message that names the file. What another program's file holds
that Akapen cannot represent (nested groups, which are flattened into the layer list with
their opacity and visibility folded in; unknown blend modes, read as normal) is reported in
the optional ``warnings`` list passed to ``load_ora``.

Here: ``spec`` (the namespace and member names both sides share), ``writer``, ``reader`` and
``pairs`` (the training pairs' members, written and read beside the layers).
"""

from canvas.ora.reader import load_ora, read_thumbnail
from canvas.ora.spec import NS
from canvas.ora.writer import FrozenDocument, freeze, save_ora, write_ora

__all__ = ["load_ora", "save_ora", "write_ora", "freeze", "FrozenDocument", "read_thumbnail", "NS"]
