"""The nano-banana backend through Google's own SDK, against a local stand-in for the Gemini API
(tests/gemini_server.py): what is sent, what comes back, and every way it can fail."""

from __future__ import annotations

import json
import logging
import threading

import numpy as np
import pytest

from inference import registry
from inference.errors import BackendUnavailable, Cancelled, InvalidRequest
from inference.gemini import keys
from inference.gemini.backend import NO_SEED, NanoBananaBackend
from inference.gemini.errors import (
    ApiFailed,
    KeyMissing,
    KeyRejected,
    NetworkFailed,
    NoImage,
    QuotaExceeded,
    Refused,
    RequestTooLarge,
)
from inference.progress import CancelToken, Reporter
from inference.request import EditRequest, MarkData, Reference
from tests.comfyui_server import free_port
from tests.gemini_server import GOOD_KEY, Reply, answer, blocked, decode_inline, error, image_part, png, retry_info


def photo(h=48, w=64, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    img[..., 3] = 255
    return img


def request(**kw) -> EditRequest:
    kw.setdefault("image", photo())
    kw.setdefault("instruction", "make it night")
    kw.setdefault("align", False)  # the stand-in inverts the picture: nothing to align, pixels checked exactly
    return EditRequest(**kw)


def backend(**kw) -> NanoBananaBackend:
    kw.setdefault("retry_wait", 0.05)
    return NanoBananaBackend(**kw)


def test_success_gives_the_image_with_the_models_words_and_token_counts(gemini_env):
    req = request()
    res = backend().run(req)
    assert res.backend == "nano-banana" and res.model == "gemini-2.5-flash-image"
    assert res.rect == (0, 0, 64, 48) and res.seeds == (None,)
    np.testing.assert_array_equal(res.images[0][..., :3], 255 - req.image[..., :3])  # the answer's image, as sent
    assert "the model said: “Here is the edited picture.”" in res.notes
    assert any("tokens" in n and "1290 in" in n and "1300 out" in n and "2590 in all" in n for n in res.notes)
    assert any(NO_SEED in n for n in res.notes)
    assert res.instruction_used.startswith("make it night")


def test_the_request_is_sent_as_the_sdk_sends_it(gemini_env):
    """Parts in order (the picture, the references, then the text), their mime types, the key in the header."""
    img = photo()
    refs = (Reference("cat", photo(20, 30, 1)), Reference("dog", photo(24, 24, 2)))
    res = backend(model="gemini-3-pro-image-preview").run(
        request(image=img, references=refs, params={"aspect_ratio": "4:3", "image_size": "2K"}))
    (seen,) = gemini_env.requests
    assert seen.path == "/v1beta/models/gemini-3-pro-image-preview:generateContent"
    assert seen.query == "" and GOOD_KEY not in json.dumps(seen.body)  # the key goes in the header only
    assert seen.headers["x-goog-api-key"] == GOOD_KEY
    (turn,) = seen.body["contents"]
    assert turn["role"] == "user"
    parts = turn["parts"]
    assert [("text" if "text" in p else "image") for p in parts] == ["image", "image", "image", "text"]
    sent = [decode_inline(p) for p in parts[:3]]
    assert [m for m, _ in sent] == ["image/png"] * 3
    np.testing.assert_array_equal(sent[0][1], img[..., :3])
    np.testing.assert_array_equal(sent[1][1], refs[0].image[..., :3])
    np.testing.assert_array_equal(sent[2][1], refs[1].image[..., :3])
    text = parts[3]["text"]
    assert text.startswith("Image 1 is the picture to edit; image 2 is the reference “cat”; image 3 is the "
                           "reference “dog”.")
    assert "make it night" in text and text == res.instruction_used
    cfg = seen.body["generationConfig"]
    assert cfg["responseModalities"] == ["TEXT", "IMAGE"]
    assert cfg["imageConfig"] == {"aspectRatio": "4:3", "imageSize": "2K"}


def test_pen_marks_are_drawn_in_and_the_model_is_asked_to_leave_them_out(gemini_env):
    img = np.full((48, 64, 4), 200, np.uint8)
    img[..., 3] = 255
    mark = MarkData("stroke", ((10, 24), (54, 24)), width=4, color=(230, 30, 30, 255))
    overlay = np.zeros_like(img)
    overlay[22:27, 10:55] = (230, 30, 30, 255)
    backend().run(request(image=img, marks=(mark,), annotation_overlay=overlay))
    parts = gemini_env.requests[0].body["contents"][0]["parts"]
    _mime, sent = decode_inline(parts[0])
    assert tuple(sent[24, 30]) == (230, 30, 30) and tuple(sent[5, 5]) == (200, 200, 200)
    assert "must not appear in the result" in parts[-1]["text"] and "red" in parts[-1]["text"]


def test_flash_takes_no_image_size_and_says_so(gemini_env):
    res = backend().run(request(params={"image_size": "2K"}))
    assert "imageConfig" not in gemini_env.requests[0].body.get("generationConfig", {})
    assert any("no image size option" in w for w in res.warnings)


def test_references_follow_the_models_limit():
    refs = tuple(Reference(f"r{i}", photo(8, 8, i)) for i in range(3))
    assert NanoBananaBackend("gemini-2.5-flash-image").capabilities.max_references == 2
    assert NanoBananaBackend("gemini-3-pro-image-preview").capabilities.max_references == 13
    with pytest.raises(InvalidRequest, match="at most 2 reference"):
        NanoBananaBackend("gemini-2.5-flash-image", key=GOOD_KEY).validate(request(references=refs))
    with pytest.raises(InvalidRequest, match="no Gemini image model"):
        NanoBananaBackend("gemini-9")


def test_a_region_edit_is_cropped_sent_at_the_models_size_and_pasted_back(gemini_env):
    img = photo(400, 600, 3)
    sel = np.zeros((400, 600), np.uint8)
    sel[200:240, 300:360] = 255
    res = backend().run(request(image=img, selection=sel))
    _mime, sent = decode_inline(gemini_env.requests[0].body["contents"][0]["parts"][0])
    assert max(sent.shape[:2]) == 1024  # the crop with context, enlarged to what the model answers at
    x, y, w, h = res.rect
    assert x >= 268 and y >= 168 and x + w <= 392 and y + h <= 272  # inside the crop around the selection
    assert res.images[0][210 - y, 320 - x, 3] == 255


def test_no_key_makes_the_backend_unavailable_and_says_where_to_get_one(gemini_env, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    info = registry.info("nano-banana")
    assert not info.available and keys.KEY_URL in info.reason and "GEMINI_API_KEY" in info.reason
    with pytest.raises(BackendUnavailable, match="aistudio.google.com/apikey"):
        NanoBananaBackend().run(request())
    with pytest.raises(KeyMissing):
        NanoBananaBackend().edit(request(), Reporter(None, None, 3))
    assert gemini_env.requests == []


@pytest.mark.parametrize("reply", [None, Reply(401, error(401, "UNAUTHENTICATED", "Request had invalid credentials.")),
                                   Reply(403, error(403, "PERMISSION_DENIED", "The caller does not have permission"))])
def test_a_rejected_key_is_said_as_such(gemini_env, reply):
    key = GOOD_KEY if reply is not None else "AIza-wrong-key"
    if reply is not None:
        gemini_env.reply(reply)
    with pytest.raises(KeyRejected, match="rejected the API key") as info:
        backend(key=key).run(request())
    assert keys.KEY_URL in str(info.value) and key not in str(info.value)
    if reply is None:
        assert "API key not valid" in str(info.value)


def test_429_is_tried_once_more_after_the_wait_the_api_asks(gemini_env):
    gemini_env.reply(Reply(429, error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted", retry_info("0.05s"))))
    res = backend().run(request())
    assert len(gemini_env.requests) == 2 and res.images
    assert any("429" in n and "tried again once after 0.1 s" in n for n in res.notes)


def test_429_twice_says_when_to_try_again(gemini_env):
    busy = Reply(429, error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Generate requests'",
                            retry_info("0.2s")))
    gemini_env.reply(busy, busy)
    with pytest.raises(QuotaExceeded, match="try again in 1 s") as info:
        backend().run(request())
    assert info.value.retry_after == pytest.approx(0.2) and "Quota exceeded" in str(info.value)
    assert len(gemini_env.requests) == 2


def test_a_429_with_a_long_wait_is_not_waited_for(gemini_env):
    gemini_env.reply(Reply(429, error(429, "RESOURCE_EXHAUSTED", "daily quota", retry_info("3600s"))))
    with pytest.raises(QuotaExceeded, match="try again in 60 min"):
        backend().run(request())
    assert len(gemini_env.requests) == 1


def test_a_safety_block_says_it_was_refused_and_why(gemini_env):
    gemini_env.reply(Reply(200, blocked("SAFETY", "The prompt was blocked")))
    with pytest.raises(Refused, match=r"refused the request \(SAFETY: The prompt was blocked\)") as info:
        backend().run(request())
    assert info.value.reason == "SAFETY"


def test_a_refused_image_says_the_finish_reason(gemini_env):
    gemini_env.reply(Reply(200, answer({"text": "I can't make that."}, finish="IMAGE_SAFETY")))
    with pytest.raises(Refused, match=r"refused to make the image \(IMAGE_SAFETY\).*I can't make that"):
        backend().run(request())


def test_an_answer_in_words_only_is_no_image(gemini_env):
    gemini_env.reply(Reply(200, answer({"text": "What would you like me to change?"})))
    with pytest.raises(NoImage, match="without an image.*What would you like me to change"):
        backend().run(request())


def test_network_down_is_a_clear_message(gemini_env, monkeypatch):
    monkeypatch.setenv("AKAPEN_GEMINI_BASE_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(NetworkFailed, match="cannot reach the Gemini API at http://127.0.0.1"):
        backend().run(request())


def test_a_timeout_is_a_clear_message(gemini_env):
    gemini_env.reply(Reply(delay=3.0))
    with pytest.raises(NetworkFailed, match="did not answer within 1 s"):
        backend(timeout=0.6).run(request())


def test_a_request_too_large_is_made_smaller_and_the_note_says_so(gemini_env):
    img = photo(240, 320, 5)  # noise: about 230 KB as PNG
    res = backend(request_limit=60_000).run(request(image=img))
    mime, sent = decode_inline(gemini_env.requests[0].body["contents"][0]["parts"][0])
    assert mime == "image/jpeg"
    assert any("over the" in n and "sent as JPEG" in n for n in res.notes)
    assert res.images[0].shape == (240, 320, 4)  # still the picture's size on the canvas
    if sent.shape[:2] != (240, 320):
        assert any(f"{sent.shape[1]}×{sent.shape[0]}" in n for n in res.notes)


def test_the_api_saying_too_large_is_its_own_error(gemini_env):
    gemini_env.reply(Reply(400, error(400, "INVALID_ARGUMENT", "Request payload size exceeds the limit: 20971520 bytes.")))
    with pytest.raises(RequestTooLarge, match="too large"):
        backend().run(request())


def test_a_server_failure_names_the_code(gemini_env):
    gemini_env.reply(Reply(500, error(500, "INTERNAL", "An internal error has occurred.")))
    with pytest.raises(ApiFailed, match="500 INTERNAL: An internal error has occurred"):
        backend().run(request())


def test_cancel_returns_before_the_answer_and_drops_it(gemini_env):
    gemini_env.reply(Reply(delay=2.0))
    token = CancelToken()
    out: dict = {}

    def go():
        try:
            out["result"] = backend().run(request(), cancel=token)
        except Exception as exc:  # noqa: BLE001
            out["error"] = exc

    t = threading.Thread(target=go)
    t.start()
    while not gemini_env.requests:
        threading.Event().wait(0.01)
    token.cancel()
    t.join(10)
    seen = gemini_env.requests[0]
    assert isinstance(out.get("error"), Cancelled) and "result" not in out
    assert not seen.answered.is_set()  # it gave up before the API answered
    assert seen.answered.wait(5)  # the late answer arrives and goes nowhere


def test_cancel_during_the_429_wait(gemini_env):
    gemini_env.reply(Reply(429, error(429, "RESOURCE_EXHAUSTED", "busy", retry_info("20s"))))
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    with pytest.raises(Cancelled):
        backend().run(request(), cancel=token)
    assert len(gemini_env.requests) == 1


def test_the_key_is_never_in_repr_results_or_logs(gemini_env, caplog):
    caplog.set_level(logging.DEBUG)
    b = backend(key=GOOD_KEY)
    res = b.run(request())
    text = repr(b) + repr(keys.find_key()) + json.dumps(res.notes) + json.dumps(res.warnings) + res.instruction_used
    assert GOOD_KEY not in text and "<hidden>" in repr(b)
    assert all(GOOD_KEY not in r.getMessage() for r in caplog.records)


def test_a_second_variation_is_a_second_call(gemini_env):
    gemini_env.reply(Reply(), Reply(200, answer(image_part(png(np.zeros((48, 64, 3), np.uint8))))))
    res = backend().run(request(variations=2))
    assert len(res.images) == 2 and len(gemini_env.requests) == 2
    assert res.images[1][..., :3].max() == 0
    assert any(n.startswith("result 1: the model said") for n in res.notes)


def test_without_the_sdk_the_backend_is_not_available_and_says_why(gemini_env, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "google.genai", None)  # as if google-genai were not installed
    ok, reason = NanoBananaBackend().availability()
    assert not ok and "google-genai" in reason and "pip install google-genai" in reason


def test_listing_the_backends_does_not_import_the_sdk():
    import subprocess
    import sys

    code = ("import sys; from inference import registry; rows = registry.list_backends(); "
            "print(any(r.name == 'nano-banana' for r in rows), 'google.genai' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == ["True", "False"], r.stderr


def test_the_marks_as_image_2_are_named_by_their_own_wording(gemini_env):
    img = np.full((48, 64, 4), 180, np.uint8)
    img[..., 3] = 255
    overlay = np.zeros_like(img)
    overlay[10:20, 10:20] = (230, 30, 30, 255)
    mark = MarkData("rectangle", ((10, 10), (20, 20)), width=3, closed=True)
    res = backend().run(request(image=img, marks=(mark,), annotation_overlay=overlay, mark_strategy="extra_image"))
    parts = gemini_env.requests[0].body["contents"][0]["parts"]
    assert len(parts) == 3  # the clean picture, the marked one, the text
    clean = decode_inline(parts[0])[1]
    marked = decode_inline(parts[1])[1]
    assert tuple(clean[15, 15]) == (180, 180, 180) and tuple(marked[15, 15]) == (230, 30, 30)
    text = parts[2]["text"]
    assert "Image 2 is image 1 with red marks" in text and "reference “marks”" not in text
    assert res.instruction_used == text


def test_the_sdk_client_is_closed_only_after_a_cancelled_call_ends():
    from inference.gemini.client import Shared, call_in_thread

    class Client:
        closed = 0

        def close(self):
            Client.closed += 1

    release_call = threading.Event()
    shared = Shared(Client())
    token = CancelToken()
    token_timer = threading.Timer(0.1, token.cancel)
    token_timer.start()
    with pytest.raises(Cancelled):
        call_in_thread(lambda: release_call.wait(10), token, shared)
    shared.release()  # the edit lets go: the call still runs, so the client stays open
    assert Client.closed == 0
    release_call.set()
    for _ in range(200):
        if Client.closed:
            break
        threading.Event().wait(0.01)
    assert Client.closed == 1


def test_a_size_asked_in_lower_case_sets_the_working_size_too(gemini_env):
    img = photo(300, 400, 6)
    sel = np.zeros((300, 400), np.uint8)
    sel[100:140, 100:160] = 255
    backend(model="gemini-3-pro-image-preview").run(request(image=img, selection=sel, params={"image_size": "2k"}))
    seen = gemini_env.requests[0]
    assert seen.body["generationConfig"]["imageConfig"] == {"imageSize": "2K"}
    _mime, sent = decode_inline(seen.body["contents"][0]["parts"][0])
    assert max(sent.shape[:2]) == 2048  # the region is sent at the size asked for


def test_an_answer_that_is_not_the_apis_says_to_check_the_endpoint(gemini_env):
    gemini_env.reply(Reply(raw=b"<html>Sign in to the proxy</html>"))
    with pytest.raises(ApiFailed, match="not a Gemini API answer.*AKAPEN_GEMINI_BASE_URL"):
        backend().run(request())
