"""FLUX.1 Kontext: the edited picture's latents learn from the original's, side by side in one sequence.

After diffusers' ``examples/dreambooth/train_dreambooth_lora_flux_kontext.py`` (read, not copied):
target and control encoded by the VAE's mode, shifted and scaled (the pipeline's own
``_encode_vae_image``), packed 2×2; the control's position ids equal the target's with their
first coordinate set to 1; packed target and control tokens concatenated, the prediction sliced
back to the target tokens; guidance 1; the LoRA on the attention projections and feed-forwards.
The cache is keyed by pair (the script's cache bug, diffusers issue 14430, keyed it by step).
"""

from __future__ import annotations

from training.recipes.base import Defaults, Recipe, Tensors


class KontextRecipe(Recipe):
    family = "flux-kontext"
    pipeline = "FluxKontextPipeline"
    lora_targets = ("attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0", "attn.add_q_proj", "attn.add_k_proj",
                    "attn.add_v_proj", "attn.to_add_out", "ff.net.0.proj", "ff.net.2", "ff_context.net.0.proj",
                    "ff_context.net.2")
    timestep_sampling = "uniform"
    guidance = 1.0
    defaults = Defaults(steps=1000, rank=16, learning_rate=1e-4, resolution=1024)
    source = "diffusers examples/dreambooth/train_dreambooth_lora_flux_kontext.py"

    def encode_images(self, pipe, befores, after, device, dtype) -> Tensors:
        import torch

        vae_dtype = pipe.vae.dtype
        x0 = pipe._encode_vae_image(self.pixels(pipe, after).to(device, vae_dtype), generator=None)
        ctrl = pipe._encode_vae_image(self.pixels(pipe, befores[0]).to(device, vae_dtype), generator=None)
        _, c, lh, lw = x0.shape
        ids = pipe._prepare_latent_image_ids(1, lh // 2, lw // 2, device, dtype)
        ctrl_ids = pipe._prepare_latent_image_ids(1, ctrl.shape[2] // 2, ctrl.shape[3] // 2, device, dtype)
        ctrl_ids[..., 0] = 1
        return {"x0": pipe._pack_latents(x0, 1, c, lh, lw).to(dtype),
                "control": pipe._pack_latents(ctrl, 1, c, ctrl.shape[2], ctrl.shape[3]).to(dtype),
                "img_ids": torch.cat([ids, ctrl_ids], dim=0)}

    def encode_text(self, pipe, instruction, befores, device, dtype) -> Tensors:
        embeds, pooled, text_ids = pipe.encode_prompt(prompt=instruction, prompt_2=None, device=device,
                                                      max_sequence_length=512)
        return {"prompt_embeds": embeds.to(dtype), "pooled": pooled.to(dtype), "text_ids": text_ids}

    def mu(self, pipe, images) -> float:
        from diffusers.pipelines.flux.pipeline_flux_kontext import calculate_shift

        cfg = pipe.scheduler.config
        return calculate_shift(images["x0"].shape[1], cfg.get("base_image_seq_len", 256),
                               cfg.get("max_image_seq_len", 4096), cfg.get("base_shift", 0.5),
                               cfg.get("max_shift", 1.15))

    def predict(self, pipe, model, images, text, noisy, t):
        import torch

        n = noisy.shape[1]
        out = model(hidden_states=torch.cat([noisy, images["control"]], dim=1), timestep=t.expand(1),
                    guidance=self.guidance_tensor(model, noisy.device), pooled_projections=text["pooled"],
                    encoder_hidden_states=text["prompt_embeds"], txt_ids=text["text_ids"], img_ids=images["img_ids"],
                    return_dict=False)[0]
        return out[:, :n]
