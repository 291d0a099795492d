"""Qwen-Image-Edit, and Qwen-Image-Edit-2509 / 2511 (the multi-reference "Plus").

diffusers has no training script for these; the recipe is musubi-tuner's and ai-toolkit's (their
documentation, read, not copied): target and control latents from the pipeline's VAE encoding
(normalised with the VAE's latents_mean / latents_std, packed 2×2), the control tokens appended
after the target tokens with every image's (frames, height, width) in ``img_shapes``; the prompt
embedding computed by Qwen2.5-VL *with* the control image(s), as the pipeline does (Plus shows the
encoder each picture at ``CONDITION_IMAGE_SIZE``); the loss on the target tokens. 2511's
``zero_cond_t`` (timestep 0 for the control tokens) is the transformer's own configuration, so it
applies in training as in inference. Timesteps logit-normal, shifted as the scheduler shifts.
"""

from __future__ import annotations

import importlib

from PIL import Image

from training.recipes.base import Defaults, Recipe, Tensors

TARGETS = ("attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0", "attn.add_q_proj", "attn.add_k_proj",
           "attn.add_v_proj", "attn.to_add_out", "img_mlp.net.0.proj", "img_mlp.net.2", "txt_mlp.net.0.proj",
           "txt_mlp.net.2")


class QwenEditRecipe(Recipe):
    family = "qwen-image-edit"
    pipeline = "QwenImageEditPipeline"
    module = "diffusers.pipelines.qwenimage.pipeline_qwenimage_edit"
    lora_targets = TARGETS
    timestep_sampling = "logit_normal"
    defaults = Defaults(steps=1000, rank=16, learning_rate=1e-4, resolution=1024)
    source = "musubi-tuner docs/qwen_image.md and ai-toolkit's Qwen-Image-Edit config (no diffusers script)"

    @staticmethod
    def _latents(pipe, rgb, device):
        x = pipe._encode_vae_image(Recipe.pixels(pipe, rgb).unsqueeze(2).to(device, pipe.vae.dtype), generator=None)
        _, c, _, lh, lw = x.shape
        return pipe._pack_latents(x, 1, c, lh, lw), (1, lh // 2, lw // 2)

    def encode_images(self, pipe, befores, after, device, dtype) -> Tensors:
        import torch

        x0, shape = self._latents(pipe, after, device)
        ctrl = [self._latents(pipe, b, device) for b in befores[: self.references]]
        return {"x0": x0.to(dtype), "control": torch.cat([c for c, _ in ctrl], dim=1).to(dtype),
                "img_shapes": [[shape, *[s for _, s in ctrl]]]}

    def prompt_images(self, befores) -> list[Image.Image] | Image.Image:
        return Image.fromarray(befores[0], "RGB")

    def encode_text(self, pipe, instruction, befores, device, dtype) -> Tensors:
        embeds, mask = pipe.encode_prompt(prompt=instruction, image=self.prompt_images(befores), device=device)
        out = {"prompt_embeds": embeds.to(dtype)}
        if mask is not None:
            out["mask"] = mask
        return out

    def mu(self, pipe, images) -> float:
        module = importlib.import_module(self.module)
        cfg = pipe.scheduler.config
        return module.calculate_shift(images["x0"].shape[1], cfg.get("base_image_seq_len", 256),
                                      cfg.get("max_image_seq_len", 4096), cfg.get("base_shift", 0.5),
                                      cfg.get("max_shift", 1.15))

    def predict(self, pipe, model, images, text, noisy, t):
        import torch

        n = noisy.shape[1]
        out = model(hidden_states=torch.cat([noisy, images["control"]], dim=1), timestep=t.expand(1),
                    guidance=self.guidance_tensor(model, noisy.device), encoder_hidden_states=text["prompt_embeds"],
                    encoder_hidden_states_mask=text.get("mask"), img_shapes=images["img_shapes"],
                    return_dict=False)[0]
        return out[:, :n]


class QwenEditPlusRecipe(QwenEditRecipe):
    family = "qwen-image-edit-plus"
    pipeline = "QwenImageEditPlusPipeline"
    module = "diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus"
    references = 3  # "Picture 1/2/3", as the model card shows

    def prompt_images(self, befores):
        module = importlib.import_module(self.module)  # looked up now: its sizes are module constants
        out = []
        for b in befores[: self.references]:
            h, w = b.shape[:2]
            cw, ch = module.calculate_dimensions(module.CONDITION_IMAGE_SIZE, w / h)
            out.append(Image.fromarray(b, "RGB").resize((int(cw), int(ch)), Image.Resampling.LANCZOS))
        return out
