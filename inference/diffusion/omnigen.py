"""OmniGen (``OmniGenPipeline``): an instruction with image placeholders.

Differs by naming its inputs in the text: the image being edited is ``<img><|image_1|></img>``,
references ``<|image_2|>``, ...; a reference's label in the instruction becomes its placeholder,
and placeholders not mentioned are added. It encodes its input images with torch's global RNG,
so that is seeded too; it has no LoRA loader. Defaults from the model card (editing):
50 steps, guidance 2.0, image guidance 1.6.
"""

from __future__ import annotations

from inference.diffusion.base import DiffusionBackend, name_references, rgb


def placeholder(n: int) -> str:
    return f"<img><|image_{n}|></img>"


class OmniGenBackend(DiffusionBackend):
    family = "omnigen"
    default_steps = 50
    default_guidance = 2.0
    default_image_guidance = 1.6
    default_working_size = 1024
    size_multiple = 16
    max_references = 2
    supports_lora = False
    global_rng = True

    def prompt(self, request) -> str:
        text, _ = name_references(request.instruction, [r.label for r in request.references], placeholder)
        missing = [placeholder(n) for n in range(1, len(request.references) + 2) if f"<|image_{n}|>" not in text]
        return " ".join(missing + [text]).strip()

    def call_kwargs(self, request, pipe):
        h, w = self.size_of(request)
        images = [rgb(request.image)] + [rgb(r.image) for r in request.references]
        return {"prompt": self.prompt(request), "input_images": images, "height": h, "width": w,
                "max_input_image_size": self.working_size, "num_inference_steps": self.steps(request),
                "guidance_scale": self.guidance(request),
                "img_guidance_scale": float(request.params.get("image_guidance", self.default_image_guidance))}, []
