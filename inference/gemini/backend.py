"""The ``nano-banana`` backend: an edit request sent to Google's Gemini image models.

What goes to Google: the picture (the pen marks drawn in, as the model reads annotations, with the
request to leave them out — :mod:`inference.pen.strategies`' "draw"), the references in order as
"image 2", "image 3" … up to the model's limit, and the instruction naming them; optionally an
aspect ratio and (Gemini 3 Pro Image) an image size. The image part of the answer is the result; its
text part and the token counts the API reports are notes on the result. The API takes no seed, so a
result cannot be made again; the notes say so.

Region edits are cropped with context by :meth:`Backend.run` like every backend's, and the crop is
sent at the size the model answers at; the result is aligned to the picture (a model drifts).
"""

from __future__ import annotations

import os

import numpy as np

from inference import region
from inference.backend import Availability, Backend, Capabilities
from inference.errors import Cancelled, InvalidRequest
from inference.gemini import client as gc
from inference.gemini import keys, models
from inference.gemini.errors import KeyMissing, NoImage, Refused
from inference.progress import CancelToken, Progress, Reporter
from inference.request import EditRequest, EditResult

NO_SEED = "Gemini takes no seed: the same edit run again gives a different result (not reproducible)"
NO_SEED_SHORT = "it takes no seed, so results are not reproducible"
REFUSAL_REASONS = frozenset({"SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT", "BLOCKLIST",
                             "SPII", "RECITATION", "IMAGE_RECITATION", "IMAGE_OTHER", "OTHER", "LANGUAGE"})


def no_key_reason() -> str:
    return (f"no Gemini API key: get one at {keys.KEY_URL}, then enter it in Edit › Gemini API key… "
            f"or set {keys.ENV_KEY}")


class NanoBananaBackend(Backend):
    """``NanoBananaBackend(model=None, key=None, store=None, timeout=180)``.

    ``model`` None: the one chosen in the settings (``AKAPEN_GEMINI_MODEL`` overrides it); ``key``
    None: ``GEMINI_API_KEY``, else the settings' key. ``request.params`` may say ``model``,
    ``aspect_ratio`` and ``image_size`` for one edit.
    """

    name = "nano-banana"
    label = "nano banana (Google Gemini)"
    resource = "api:gemini"  # a remote API: runs beside the local GPU and the ComfyUI servers

    def __init__(self, model: str | None = None, *, key: keys.Secret | str | None = None,
                 store: keys.GeminiStore | None = None, timeout: float = 180.0, image_size: str | None = None,
                 retry_wait: float = 2.0, max_retry_wait: float = 30.0, request_limit: int = gc.REQUEST_LIMIT) -> None:
        if model is not None:
            models.get(model)
        self._model = model
        self._key = keys.Secret(key) if isinstance(key, str) else key
        self.store = store or keys.GeminiStore()
        self.timeout = float(timeout)
        self._image_size = image_size
        self.retry_wait = float(retry_wait)  # seconds before the one retry of a 429 that names no wait
        self.max_retry_wait = float(max_retry_wait)  # a longer wait is not waited for: the error says when
        self.request_limit = int(request_limit)

    def __repr__(self) -> str:
        return f"NanoBananaBackend(model={self.model_id!r}, key=<hidden>)"

    # --- settings ---------------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        mid = self._model or os.environ.get(keys.ENV_MODEL, "").strip() or self.store.load().model
        return mid if mid in models.MODELS else models.DEFAULT_MODEL

    @property
    def model(self) -> str:
        return self.model_id

    @property
    def image_size(self) -> str | None:
        return self._image_size

    def set_model(self, model_id: str | None, image_size: str | None = None) -> None:
        """Use ``model_id`` (None: the settings') and ``image_size`` from now on (its capabilities follow)."""
        if model_id is not None:
            models.get(model_id)
        self._model = model_id
        self._image_size = image_size

    def configured(self, model_id: str, image_size: str | None) -> NanoBananaBackend:
        return NanoBananaBackend(model_id, key=self._key, store=self.store, timeout=self.timeout, image_size=image_size,
                                 retry_wait=self.retry_wait, max_retry_wait=self.max_retry_wait,
                                 request_limit=self.request_limit)

    def key(self) -> keys.Secret:
        if self._key:
            return self._key
        return keys.find_key(self.store)[0]

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        spec = models.get(self.model_id)
        size = self._image_size if self._image_size in spec.sizes else None
        return Capabilities(reads_instruction=True, max_references=spec.max_references, native_annotations=True,
                            working_size=spec.working_size(size), upscale_regions=True, max_variations=4,
                            seeded=False, marks="nano-banana", aligns=True)

    def availability(self) -> Availability:
        problem = gc.sdk_problem()
        if problem:
            return Availability(False, problem)
        if not self._key:
            key, why = keys.find_key(self.store)
            if not key:
                return Availability(False, no_key_reason() + (f" ({why})" if why else ""))
        try:
            url = keys.base_url()
        except InvalidRequest as exc:
            return Availability(False, str(exc))
        said = "sends the picture, references and instruction to Google's Gemini API; " + NO_SEED_SHORT
        warning = keys.transport_warning(url)
        return Availability(True, f"{said}; {warning}" if warning else said)

    # --- the edit -------------------------------------------------------------------------------------
    def run(self, request: EditRequest, progress: Progress | None = None,
            cancel: CancelToken | None = None) -> EditResult:
        model = str(request.params.get("model") or "").strip() or None
        size = str(request.params.get("image_size") or "").strip().upper() or None
        if (model and model != self.model_id) or (size and size != self._image_size):
            # one edit with another model or size: its limits and working size are that model's
            return self.configured(models.get(model).id if model else self.model_id, size or self._image_size).run(
                request, progress, cancel)
        return super().run(request, progress, cancel)

    def validate(self, request: EditRequest) -> None:
        super().validate(request)
        models.check_aspect(request.params.get("aspect_ratio"))
        models.check_size(models.get(self.model_id), request.params.get("image_size"))

    def plan_steps(self, request: EditRequest) -> int:
        return 1 + 2 * min(request.variations, self.capabilities.max_variations)

    def prompt_text(self, request: EditRequest) -> str:
        """The text the model reads: its images named by number (as Google's docs name them), the
        instruction (with the pen marks' wording), and that an image is wanted back."""
        spec = models.get(self.model_id)
        refs = request.references[:spec.max_references]
        names = []
        for i, r in enumerate(refs):
            if i == 0 and request.mark_strategy == "extra_image" and r.label == "marks":
                continue  # the marks' own wording names image 2
            names.append(f"image {i + 2} is the reference “{r.label}”")
        lead = ("Image 1 is the picture to edit; " + "; ".join(names) + ".") if names else ""
        text = " ".join(t for t in (lead, request.instruction, "Answer with the edited picture.") if t)
        return text

    def edit(self, request: EditRequest, reporter: Reporter):
        reporter.phase("encode")
        key = self.key()
        if not key:
            raise KeyMissing(f"the {self.name} backend is not available: {no_key_reason()}")
        url = keys.base_url()
        spec = models.get(self.model_id)
        aspect = models.check_aspect(request.params.get("aspect_ratio"))
        size, said = models.check_size(spec, request.params.get("image_size") or self._image_size)
        warnings = [said] if said else []
        text = self.prompt_text(request)
        reporter.instruction_used = text  # type: ignore[attr-defined]
        pictures = [request.image, *(r.image for r in request.references[:spec.max_references])]
        enc = gc.encode_images(pictures, text, self.request_limit)
        if enc.note:
            reporter.notes.append(enc.note)
        sdk = gc.Shared(gc.make_client(key, url, self.timeout))
        try:
            images = self._run_calls(request, reporter, sdk, spec, gc.contents(enc.parts, text),
                                     gc.generate_config(aspect, size), url, warnings)
        finally:
            sdk.release()  # closed now, or when a cancelled call's thread ends
        reporter.notes.append(f"{spec.id}: {NO_SEED}")
        return images, [None] * len(images), warnings

    def _run_calls(self, request: EditRequest, reporter: Reporter, sdk: gc.Shared, spec, parts, config, url: str,
                   warnings: list[str]) -> list[np.ndarray]:
        reporter.advance()
        n = min(request.variations, self.capabilities.max_variations)
        images: list[np.ndarray] = []
        for i in range(n):
            tag = f"result {i + 1}: " if n > 1 else ""
            reporter.phase("generate")
            answer = self._generate(sdk, spec.id, parts, config, reporter, url, tag)
            data = self._image_of(answer)
            reporter.advance()
            reporter.phase("fetch")
            images.append(region.fit_answer(gc.decode_image(data), request.width, request.height, warnings,
                                            "Gemini"))
            said_text = " ".join(answer.texts).strip()
            if said_text:
                reporter.notes.append(f"{tag}the model said: “{gc.short(said_text)}”")
            if answer.usage_note():
                reporter.notes.append(tag + answer.usage_note())
            reporter.advance()
        return images

    def _generate(self, sdk: gc.Shared, model: str, parts, config, reporter: Reporter, url: str,
                  tag: str) -> gc.Answer:
        def call():
            return sdk.sdk.models.generate_content(model=model, contents=parts, config=config)

        for attempt in (1, 2):
            try:
                return gc.read_answer(gc.call_in_thread(call, reporter.cancel, sdk))
            except Cancelled:
                raise
            except Exception as exc:  # noqa: BLE001 - typed below; anything else is a bug and goes on up
                if attempt == 1 and gc.is_quota(exc):
                    asked = gc.retry_after(exc)
                    wait = self.retry_wait if asked is None else asked
                    if wait <= self.max_retry_wait:
                        reporter.notes.append(f"{tag}the API said 429 (quota or rate limit); tried again once "
                                              f"after {wait:.1f} s")
                        if reporter.cancel.wait(wait):
                            raise Cancelled() from None
                        continue
                typed = gc.translate(exc, model=model, url=url, timeout=self.timeout)
                if typed is None:
                    raise
                raise typed from None
        raise AssertionError("unreachable")

    def _image_of(self, answer: gc.Answer) -> bytes:
        if answer.images:
            return answer.images[0][0]
        said = " ".join(answer.texts).strip()
        quote = f" It said: “{gc.short(said)}”." if said else ""
        if answer.block_reason:
            why = answer.block_reason + (f": {gc.short(answer.block_message)}" if answer.block_message else "")
            raise Refused(f"Google refused the request ({why}); nothing was changed. Rephrase the instruction or "
                          f"use another picture.{quote}", answer.block_reason)
        if answer.finish_reason in REFUSAL_REASONS:
            why = answer.finish_reason + (f": {gc.short(answer.finish_message)}" if answer.finish_message else "")
            raise Refused(f"the model refused to make the image ({why}); nothing was changed. Rephrase the "
                          f"instruction or use another picture.{quote}", answer.finish_reason)
        why = f" (finish reason {answer.finish_reason})" if answer.finish_reason and answer.finish_reason != "STOP" else ""
        raise NoImage(f"the model answered without an image{why}; nothing was changed.{quote} Say what to change "
                      "in the picture, e.g. “make the sky orange”, and run again.")
