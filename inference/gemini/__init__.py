"""nano banana: Google's Gemini image models as an editing backend, through Google's own SDK.

- :mod:`models`: the models offered (``gemini-2.5-flash-image``, nano banana; and
  ``gemini-3-pro-image-preview``, nano banana pro), their input limits, aspect ratios and sizes;
- :mod:`keys`: the API key (``GEMINI_API_KEY``, or the one entered in the settings, kept in a
  file only its owner can read) and the endpoint (``AKAPEN_GEMINI_BASE_URL`` overrides it);
- :mod:`errors`: what can go wrong, each a typed error whose text says what to do;
- :mod:`client`: the SDK (``google-genai``, imported only when an edit runs): the request's
  parts, the call in a worker thread that a cancel leaves behind, the answer read back;
- :mod:`backend`: the backend the registry lists as ``nano-banana``.

Importing this package imports neither the SDK nor any network code.
"""

from __future__ import annotations

BACKEND = "nano-banana"
BACKENDS = {BACKEND: "inference.gemini.backend:NanoBananaBackend"}
