"""ComfyUI backends: the same edit request, run on a ComfyUI server instead of in-process.

Two kinds, sharing one job path (:class:`ComfyBackend`):

- :class:`ComfyFamilyBackend`: a graph for a seed family ComfyUI runs natively (FLUX.1
  Kontext, Qwen-Image-Edit-2509/2511, FLUX.2 klein, ChronoEdit) built from the request, with
  model files picked from what the server lists;
- :class:`ComfyWorkflowBackend`: "bring your own workflow" — any ComfyUI workflow JSON (UI or
  API format); its image inputs get the canvas image and the references, its prompt the
  instruction, its seed the seed, and every image it outputs comes back as a result.

A job: pick the server (shortest queue among those with every node type and model file the
graph needs; what the others lack is said before anything is uploaded) → upload the images →
queue the graph with our own prompt id → follow the WebSocket (progress, previews, errors) →
fetch the outputs named in ``/history``. Cancel removes only our job: deleted while it waits,
interrupted only while it is the one running. A server that drops mid-job fails the job with a
clear message; nothing is written to the document until a result exists.
"""

from __future__ import annotations

import io
import json
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

from inference import region, remote_files
from inference.backend import Availability, Backend, Capabilities
from inference.comfyui import workflow
from inference.comfyui.client import ComfyClient, Event, EventStream, ServerError
from inference.comfyui.servers import Plan, ServerConfig, check, choose, configured
from inference.errors import BackendFailed, Cancelled, InvalidRequest
from inference.pen import strategies as mark_strategies
from inference.progress import Reporter
from inference.request import EditRequest

STEPS = 100                   # progress steps of one job (the fraction is mapped onto them)
MAX_OUTPUT_PIXELS = 64 * 1024 * 1024
SILENCE_POLL = 5.0            # seconds without a WebSocket message before asking /history


def png_bytes(image: np.ndarray, *, flatten: bool) -> bytes:
    """RGBA uint8 → PNG. ``flatten``: over white, as RGB (family graphs drop alpha anyway)."""
    if flatten:
        a = image[..., 3:4].astype(np.float32) / 255.0
        rgb = (image[..., :3].astype(np.float32) * a + 255.0 * (1.0 - a) + 0.5).astype(np.uint8)
        pil = Image.fromarray(rgb, "RGB")
    else:
        pil = Image.fromarray(np.ascontiguousarray(image), "RGBA")
    buf = io.BytesIO()
    pil.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def decode_output(data: bytes, what: str) -> np.ndarray:
    """An image the server sent → RGBA uint8, refusing sizes that would exhaust memory."""
    return remote_files.decode_image(data, MAX_OUTPUT_PIXELS, BackendFailed, what)


class _Progress:
    """Maps a job's node-level progress onto the reporter's steps between ``lo`` and ``hi``."""

    def __init__(self, reporter: Reporter, lo: int, hi: int, nodes: int) -> None:
        self.rep, self.lo, self.hi, self.nodes = reporter, lo, hi, max(1, nodes)
        self.done: set[str] = set()
        self.current: str | None = None
        self.sub = 0.0

    def update(self) -> None:
        frac = min(1.0, (len(self.done) + self.sub) / self.nodes)
        target = self.lo + int(frac * (self.hi - self.lo))
        if target > self.rep.step:
            self.rep.advance(target - self.rep.step)
        else:
            self.rep.check()


class ComfyBackend(Backend):
    """What every ComfyUI backend shares: servers, the job, progress, cancel, outputs."""

    resource: ClassVar[str] = "comfyui"  # the ComfyUI servers (they queue jobs themselves)
    flatten_inputs: ClassVar[bool] = True

    def __init__(self, servers: Sequence[ServerConfig] | None = None, *, timeout: float = 20.0) -> None:
        self._servers = list(servers) if servers is not None else None
        self.timeout = timeout
        self.last_server = ""

    def servers(self) -> list[ServerConfig]:
        return list(self._servers) if self._servers is not None else configured()

    def availability(self) -> Availability:
        servers = self.servers()
        if not servers:
            return Availability(False, "no ComfyUI server is set up: add one in Edit › Servers… "
                                       "(or pass --server URL on the command line)")
        return Availability(True, "runs on " + ", ".join(s.label for s in servers[:3])
                            + (" …" if len(servers) > 3 else ""))

    @property
    def model(self) -> str:
        return f"ComfyUI at {self.last_server}" if self.last_server else "ComfyUI"

    def plan_steps(self, request: EditRequest) -> int:
        return STEPS * min(request.variations, self.capabilities.max_variations) + 2

    # --- what subclasses say ---------------------------------------------------------------------
    def graph(self, request: EditRequest, client: ComfyClient, images: list[str], seed: int) -> dict:
        """The API prompt for ``request`` on this server (``images``: the upload names)."""
        raise NotImplementedError

    def outputs_of(self, prompt: dict) -> set[str] | None:
        """The node ids whose images are results (None: every image the job outputs)."""
        return None

    def graph_notes(self, request: EditRequest, prompt: dict, client: ComfyClient) -> list[str]:
        """Warnings about how the request fits the graph (e.g. an instruction it has no place for)."""
        return []

    def varies(self, prompt: dict, client: ComfyClient) -> bool:
        """Whether another seed gives another result."""
        return True

    def input_images(self, request: EditRequest) -> list[np.ndarray]:
        return [request.image, *(r.image for r in request.references)]

    # --- the job ---------------------------------------------------------------------------------
    def edit(self, request: EditRequest, reporter: Reporter):
        reporter.phase("connect")
        job = secrets.token_hex(6)
        inputs = self.input_images(request)
        names = [f"akapen-{job}-{i}.png" for i in range(len(inputs))]
        seeds = self.seeds_for(request)

        def plan(client: ComfyClient):
            info = client.object_info()
            prompt = self.graph(request, client, names, seeds[0])
            return Plan(prompt, tuple(workflow.missing_node_types(prompt, info)),
                        tuple(str(m) for m in workflow.missing_models(prompt, info)),
                        tuple(workflow.unknown_choices(prompt, info)))

        cand, notes = choose(self.servers(), plan, timeout=self.timeout)
        client = cand.client
        self.last_server = cand.server.label
        warnings = [n for n in notes if "skipped" in n] + self.graph_notes(request, cand.prompt, client)
        if len(seeds) > 1 and not self.varies(cand.prompt, client):
            warnings.append("the graph has no seed to vary, so it gives one result, not "
                            f"{len(seeds)} variations")
            seeds = seeds[:1]
        reporter.advance()
        reporter.phase("upload")
        for im, name in zip(inputs, names, strict=True):
            client.upload_image(png_bytes(im, flatten=self.flatten_inputs), name)
        reporter.advance()
        images: list[np.ndarray] = []
        image_seeds: list[int | None] = []
        for i, seed in enumerate(seeds):
            prompt = cand.prompt if i == 0 else self.graph(request, client, names, seed)
            reporter.phase("run")
            outs = self._run_job(client, prompt, reporter, 2 + i * STEPS, 2 + (i + 1) * STEPS)
            reporter.phase("fetch")
            for im in outs:
                images.append(region.fit_answer(im, request.width, request.height, warnings, "the server"))
                image_seeds.append(seed if self.capabilities.seeded else None)
        if not images:
            raise BackendFailed(f"the job on {cand.server.label} finished without an output image "
                                "(does the workflow end in a SaveImage or PreviewImage node?)")
        return images, image_seeds, warnings

    def _run_job(self, client: ComfyClient, prompt: dict, reporter: Reporter, lo: int, hi: int) -> list[np.ndarray]:
        client_id = secrets.token_hex(16)
        prompt_id = f"akapen-{secrets.token_hex(16)}"
        prog = _Progress(reporter, lo, hi, len(prompt))
        with client.connect(client_id) as ws:
            client.submit(prompt, client_id, prompt_id)
            try:
                finished = self._follow(client, ws, prompt_id, prog, reporter)
            except Cancelled:  # however it was noticed (our check, or the reporter's): stop our job
                self._cancel(client, prompt_id)
                raise
        if finished is None:
            entry = client.history(prompt_id)
        else:
            entry = finished
        return self._fetch_outputs(client, prompt, prompt_id, entry)

    def _follow(self, client: ComfyClient, ws: EventStream, prompt_id: str, prog: _Progress,
                reporter: Reporter) -> dict | None:
        """Follow the job's events until it is done; returns its history entry when the
        WebSocket was lost and the job was followed by polling instead."""
        running = False
        quiet_since = time.monotonic()
        polling = False
        while True:
            reporter.check()
            if polling:
                entry = self._poll(client, prompt_id)
                if entry is not None:
                    return entry
                reporter.cancel.wait(0.5)
                continue
            try:
                ev = ws.next(0.2)
            except ServerError as exc:
                self._server_lost(client, exc)
                polling = True  # the server answers: follow the job through /history instead
                continue
            if ev is None:
                if time.monotonic() - quiet_since > SILENCE_POLL:
                    quiet_since = time.monotonic()
                    entry = self._poll(client, prompt_id)
                    if entry is not None:
                        return entry
                continue
            quiet_since = time.monotonic()
            if ev.kind == "preview":  # only while our job runs (old servers send no prompt id with it)
                if running and ev.image and ev.data.get("prompt_id") in (None, prompt_id):
                    self._preview(ev, reporter)
                continue
            pid = ev.data.get("prompt_id")
            if pid is not None and pid != prompt_id:
                continue  # another job on a shared server
            if ev.kind == "execution_start":
                running = True
            elif ev.kind == "execution_cached":
                prog.done.update(str(n) for n in ev.data.get("nodes") or ())
            elif ev.kind == "executing" and pid == prompt_id:
                node = ev.data.get("node")
                if prog.current is not None:
                    prog.done.add(prog.current)
                prog.current, prog.sub = (None if node is None else str(node)), 0.0
                if node is None:
                    return None
            elif ev.kind == "progress" and pid == prompt_id:
                mx = float(ev.data.get("max") or 0)
                prog.sub = float(ev.data.get("value") or 0) / mx if mx > 0 else 0.0
            elif ev.kind == "executed":
                prog.done.add(str(ev.data.get("node")))
            elif ev.kind == "execution_error":
                raise self._execution_error(client, ev.data)
            elif ev.kind == "execution_interrupted":
                if reporter.cancel.cancelled:
                    raise Cancelled()
                raise BackendFailed(f"the job was interrupted on {client.url} (by someone else using the server, "
                                    "or the server is shutting down); try again")
            prog.update()

    def _poll(self, client: ComfyClient, prompt_id: str) -> dict | None:
        """The job's history entry when it has finished; None while it waits or runs."""
        try:
            entry = client.history(prompt_id)
            if entry is not None and (entry.get("status") or {}).get("completed") is not None:
                status = entry.get("status") or {}
                if status.get("status_str") == "error":
                    for kind, data in status.get("messages") or ():
                        if kind == "execution_error":
                            raise self._execution_error(client, data)
                        if kind == "execution_interrupted":
                            raise BackendFailed(f"the job was interrupted on {client.url}; try again")
                    raise BackendFailed(f"the job failed on {client.url}")
                return entry
            state = client.queue()
        except ServerError as exc:
            self._server_lost(client, exc)
            raise
        if prompt_id not in state.running and prompt_id not in state.pending:
            entry = client.history(prompt_id)
            if entry is not None:
                return entry
            raise BackendFailed(f"the job disappeared from {client.url} (the server was restarted or its queue "
                                "was cleared); try again")
        return None

    def _server_lost(self, client: ComfyClient, exc: ServerError) -> None:
        """Raise a clear error when the server is gone; return when it still answers."""
        try:
            client.system_stats(timeout=5.0)
        except ServerError:
            check(ServerConfig(client.url, client.token))  # remember it as down for the next job
            raise BackendFailed(f"the ComfyUI server at {client.url} stopped answering during the edit; the "
                                "edit was not finished and nothing in your document changed. The next edit goes "
                                "to another server if one is set up.") from None

    def _execution_error(self, client: ComfyClient, data: dict) -> BackendFailed:
        node = data.get("node_id", "?")
        ntype = data.get("node_type", "?")
        etype = data.get("exception_type", "error")
        msg = str(data.get("exception_message", "")).strip().splitlines()
        text = msg[0][:400] if msg else ""
        return BackendFailed(f"the job failed on {client.url} in node {node} ({ntype}): {etype}: {text}")

    def _cancel(self, client: ComfyClient, prompt_id: str) -> None:
        try:
            client.cancel(prompt_id)
        except ServerError:
            pass  # the server is gone: there is nothing left to stop

    def _preview(self, ev: Event, reporter: Reporter) -> None:
        try:
            with Image.open(io.BytesIO(ev.image)) as im:
                if im.width * im.height > 4096 * 4096:
                    return
                rgba = np.array(im.convert("RGBA"))
        except Exception:  # noqa: BLE001 - a broken preview is skipped, the job goes on
            return
        reporter.advance(0, preview=rgba)

    def _fetch_outputs(self, client: ComfyClient, prompt: dict, prompt_id: str, entry: dict | None) -> list[np.ndarray]:
        if entry is None:
            raise BackendFailed(f"{client.url} has no record of the finished job; try again")
        wanted = self.outputs_of(prompt)
        outs = entry.get("outputs") or {}
        images = []

        def order(k: str):
            return (0, int(k), "") if k.isdigit() else (1, 0, k)

        for node_id in sorted(outs, key=order):
            if wanted is not None and node_id not in wanted:
                continue
            for item in (outs[node_id] or {}).get("images") or ():
                if not isinstance(item, dict) or "filename" not in item:
                    continue
                data = client.view(str(item["filename"]), str(item.get("subfolder", "")),
                                   str(item.get("type", "output")))
                images.append(decode_output(data, f"output {item['filename']} of {client.url}"))
        return images


class ComfyFamilyBackend(ComfyBackend):
    """A seed family's graph, after the official ComfyUI template, run on a server."""

    def __init__(self, family: str, servers: Sequence[ServerConfig] | None = None, **kw) -> None:
        from inference.comfyui import families

        if family not in families.FAMILIES:
            raise InvalidRequest(f"no ComfyUI graph for {family!r}; one of {', '.join(families.FAMILIES)}")
        super().__init__(servers, **kw)
        self.family = families.FAMILIES[family]

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"comfyui-{self.family.name}"

    @property
    def label(self) -> str:  # type: ignore[override]
        return f"{self.family.label} (ComfyUI)"

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        f = self.family
        return Capabilities(reads_instruction=True, max_references=f.max_references, working_size=f.working_size,
                            size_multiple=f.size_multiple, upscale_regions=True, max_variations=4, seeded=True,
                            marks=self.name if self.name in mark_strategies.FAMILIES else None, aligns=True)

    def graph(self, request: EditRequest, client: ComfyClient, images: list[str], seed: int) -> dict:
        from inference.comfyui import families

        f = self.family
        models = families.pick_models(f.name, client.object_info())
        models.update({k: str(v) for k, v in dict(request.params.get("comfy_models") or {}).items()})
        return families.build(f.name, images=images, instruction=request.instruction, seed=seed,
                              steps=request.steps, guidance=request.guidance, width=request.width,
                              height=request.height, models=models, output_prefix="akapen")

    def outputs_of(self, prompt: dict) -> set[str] | None:
        return {k for k, v in prompt.items() if v.get("class_type") == "SaveImage"}


def read_workflow_file(path: str | Path) -> dict:
    """A workflow file's JSON (UI or API format); every problem is an error naming the file."""
    p = Path(path)
    try:
        if p.stat().st_size > workflow.MAX_BYTES:  # refused before it is read into memory
            raise InvalidRequest(f"{p}: larger than {workflow.MAX_BYTES // 2**20} MB, not a workflow")
        return workflow.parse_workflow(p.read_bytes())
    except OSError as exc:
        raise InvalidRequest(f"cannot read the workflow {p}: {exc.strerror or exc}") from None
    except workflow.WorkflowError as exc:
        raise workflow.WorkflowError(f"{p}: {exc}") from None


def load_workflow(path: str | Path, object_info: dict | None) -> tuple[dict, workflow.WorkflowInfo]:
    """A workflow file as the API prompt it runs and where its inputs are, or an error naming the file.

    A UI-format file becomes a prompt through ``object_info`` (a server's node list); without one
    it cannot be read and the error says to connect a server.
    """
    data = read_workflow_file(path)
    try:
        if workflow.is_api_format(data):
            workflow.check_acyclic(data)
            prompt = data
        elif object_info is None:
            raise workflow.WorkflowError("a workflow in ComfyUI's UI format is read through a server's node list: "
                                         "connect a server (Edit › Servers…)")
        else:
            prompt = workflow.ui_to_api(data, object_info)
        return prompt, workflow.analyse(prompt, object_info)
    except workflow.WorkflowError as exc:
        raise workflow.WorkflowError(f"{path}: {exc}") from None


def workflow_prompt(source: str | Path | dict, client: ComfyClient | None) -> dict | None:
    """The API prompt of a workflow (a file or parsed JSON). UI format is converted through
    ``client``'s node list, so it follows that server's version; None when it needs a server
    and ``client`` is None."""
    data = source if isinstance(source, dict) else read_workflow_file(source)
    if workflow.is_api_format(data):
        return json.loads(json.dumps(data))  # a copy: apply() and the caller never share it
    return None if client is None else workflow.ui_to_api(data, client.object_info())


class ComfyWorkflowBackend(ComfyBackend):
    """Bring your own workflow: any ComfyUI workflow JSON, its inputs mapped from the request.

    ``request.params``: ``workflow`` (a path or the parsed JSON), ``workflow_images`` (node id →
    "image" or a reference's label; by default the canvas image goes to the first image input
    and the references to the next ones, in order).
    """

    name: ClassVar[str] = "comfyui-workflow"
    label: ClassVar[str] = "Your ComfyUI workflow"
    flatten_inputs: ClassVar[bool] = False  # a workflow may use LoadImage's mask (the alpha)
    capabilities: ClassVar[Capabilities] = Capabilities(reads_instruction=True, max_references=8,
                                                        working_size=None, max_variations=4, seeded=True,
                                                        aligns=True)

    def validate(self, request: EditRequest) -> None:
        super().validate(request)
        if not request.params.get("workflow"):
            raise InvalidRequest("choose a ComfyUI workflow (JSON, UI or API format) for this backend")

    def graph(self, request: EditRequest, client: ComfyClient, images: list[str], seed: int) -> dict:
        prompt = workflow_prompt(request.params["workflow"], client)
        info = workflow.analyse(prompt, client.object_info())
        mapping = image_mapping(info, request, images)
        return workflow.apply(prompt, info, images=mapping,
                              instruction=(request.instruction or None) if info.prompt_inputs else None,
                              seed=seed if info.seed_inputs else None,
                              steps=request.steps if info.steps_inputs else None,
                              guidance=request.guidance if info.guidance_inputs else None, output_prefix="akapen")

    def graph_notes(self, request: EditRequest, prompt: dict, client: ComfyClient) -> list[str]:
        info = workflow.analyse(prompt, client.object_info())
        if request.instruction and not info.prompt_inputs:
            return ["the workflow has no prompt input (a text encoder feeding a sampler), so the instruction "
                    "was not used"]
        return []

    def varies(self, prompt: dict, client: ComfyClient) -> bool:
        return bool(workflow.analyse(prompt, client.object_info()).seed_inputs)


def image_mapping(info: workflow.WorkflowInfo, request: EditRequest, names: list[str]) -> dict[str, str]:
    """LoadImage node id → upload name: from ``workflow_images`` or by order (canvas image first)."""
    slots = [s.node_id for s in info.image_inputs]
    labels = {r.label: i + 1 for i, r in enumerate(request.references)}
    given = dict(request.params.get("workflow_images") or {})
    out: dict[str, str] = {}
    if given:
        for node_id, source in given.items():
            node_id = str(node_id)
            if node_id not in slots:
                raise InvalidRequest(f"the workflow has no image input {node_id}; its image inputs are "
                                     f"{', '.join(slots) or 'none'}")
            if source == "image":
                out[node_id] = names[0]
            elif source in labels:
                out[node_id] = names[labels[source]]
            else:
                raise InvalidRequest(f"image input {node_id}: no reference called {source!r}")
        return out
    if len(names) > len(slots):
        raise InvalidRequest(f"the workflow has {len(slots)} image input(s) but the edit sends {len(names)} "
                             "image(s) (the canvas and its references); remove references or map them")
    return dict(zip(slots, names, strict=False))
