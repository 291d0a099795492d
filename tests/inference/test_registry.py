import numpy as np
import pytest

from inference import registry
from inference.backend import Availability, Backend, Capabilities
from inference.errors import BackendUnavailable, UnknownBackend
from inference.request import EditRequest


def test_classical_is_listed_available_and_every_listed_backend_is_real():
    rows = {r.name: r for r in registry.list_backends()}
    assert rows["classical"].available and rows["classical"].reason == ""
    assert "OpenCV" in rows["classical"].model
    for name in rows:  # nothing is listed that cannot be built
        b = registry.get(name)
        assert isinstance(b, Backend) and b.name == name


def test_unknown_backend_names_the_ones_there_are():
    with pytest.raises(UnknownBackend, match="classical"):
        registry.get("no-such-backend")


class _Offline(Backend):
    name = "offline-test"
    capabilities = Capabilities(needs_gpu=True)

    def availability(self):
        return Availability(False, "no CUDA GPU was found")


def test_unavailable_backends_are_listed_with_their_reason_and_refuse_to_run():
    registry.register("offline-test", _Offline)
    registry.register("missing-package-test", "akapen_no_such_module.family:Backend")
    try:
        rows = {r.name: r for r in registry.list_backends()}
        assert not rows["offline-test"].available
        assert rows["offline-test"].reason == "no CUDA GPU was found"
        assert not rows["missing-package-test"].available
        assert "akapen_no_such_module" in rows["missing-package-test"].reason
        req = EditRequest(np.zeros((4, 4, 4), np.uint8), "x")
        with pytest.raises(BackendUnavailable, match="no CUDA GPU"):
            registry.get("offline-test").run(req)
        with pytest.raises(ValueError):
            registry.register("offline-test", _Offline)
    finally:
        registry.unregister("offline-test")
        registry.unregister("missing-package-test")
    assert registry.default_backend().name == "classical"


class _Seeded(Backend):
    name = "seeded-test"
    capabilities = Capabilities(max_variations=4)

    def edit(self, request, reporter):
        seeds = self.seeds_for(request)
        reporter.advance()
        return [request.image.copy() for _ in seeds], seeds, []


class _Broken(Backend):
    name = "broken-test"

    def edit(self, request, reporter):
        import cv2

        cv2.resize(np.zeros((0, 0), np.uint8), (0, 0))  # raises cv2.error
        return [], [], []


class _Hungry(Backend):
    name = "hungry-test"

    def edit(self, request, reporter):
        raise MemoryError


def test_seeds_are_reported_and_library_failures_become_typed_errors():
    from inference.errors import BackendFailed, OutOfMemory

    img = np.zeros((8, 8, 4), np.uint8)
    res = _Seeded().run(EditRequest(img, "x", seed=41, variations=3))
    assert res.seeds == (41, 42, 43) and len(res.images) == 3
    res = _Seeded().run(EditRequest(img, "x", variations=2))
    assert res.seeds[1] == res.seeds[0] + 1
    with pytest.raises(BackendFailed, match="broken-test backend failed"):
        _Broken().run(EditRequest(img, "x"))
    with pytest.raises(OutOfMemory, match="ran out of memory"):
        _Hungry().run(EditRequest(img, "x"))
