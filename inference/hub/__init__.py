"""Getting models: the catalogue, downloads into the Hugging Face cache, tokens. Qt-free; imports no torch.

- :mod:`catalogue` (data in ``resources/catalogue.json``) and :mod:`machine`: what can be
  downloaded, and which variant fits this GPU and disk.
- :mod:`auth`: the endpoint (``HF_ENDPOINT``) and the token (``HF_TOKEN``, else the file
  huggingface_hub keeps), checked with ``whoami``.
- :mod:`api`: the few Hub routes a download needs, with the Hub's errors mapped to
  :mod:`errors` written for the user.
- :mod:`plan`: which files of a repo a pipeline needs, their sizes and checksums, and what is
  already on disk; :mod:`transfer`: one file, resumable across restarts, retried with back-off,
  verified; :mod:`cache`: the Hugging Face cache layout (blobs, snapshots, refs), verify, remove.
- :mod:`download`: a whole model (and its base's other components) from plan to installed;
  :mod:`state`: unfinished downloads kept across a quit or crash, and the bases named for
  single files.
"""
