"""Training edit LoRAs from before/after pairs: Qt-free, beside ``canvas/`` and ``inference/``.

- :mod:`training.dataset`: pairs, and the ``before/`` + ``after/`` folder layout other trainers use.
- :mod:`training.recipes`: one recipe per family that can train (FLUX.1 Kontext, FLUX.2 klein and
  dev, Qwen-Image-Edit and -Plus, InstructPix2Pix), and why the others cannot.
- :mod:`training.trainer`: ``train(dataset, model, output, Settings(...), progress=…, cancel=…)``.
- :mod:`training.lora`, :mod:`training.checkpoint`: the LoRA file and the resumable checkpoint.

It may use ``inference`` (model discovery, the pipeline loader, the family backends for samples)
and never imports ``canvas`` or ``desktop``. Importing it imports neither torch nor diffusers.
"""
