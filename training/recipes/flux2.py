"""FLUX.2 klein (train the base model, as musubi-tuner's documentation advises) and FLUX.2 dev.

After diffusers' ``train_dreambooth_lora_flux2_klein_img2img.py`` and
``train_dreambooth_lora_flux2_img2img.py`` (read, not copied): the VAE's latents patchified 2×2
and normalised with its batch-norm statistics (the pipeline's ``_encode_vae_image``), packed to a
sequence with 4-D position ids (T, H, W, L); the control images are reference tokens at T = 10,
20 … (the pipeline's ``prepare_image_latents``), appended after the target tokens. Klein has no
guidance embedding; dev's is set to 1. Timesteps are logit-normal, shifted as the pipeline's
scheduler shifts them at this size.
"""

from __future__ import annotations

from training.recipes.base import Defaults, Recipe, Tensors

TARGETS = ("attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0", "attn.add_q_proj", "attn.add_k_proj",
           "attn.add_v_proj", "attn.to_add_out", "attn.to_qkv_mlp_proj", "ff.linear_in", "ff.linear_out",
           "ff_context.linear_in", "ff_context.linear_out")


class Flux2KleinRecipe(Recipe):
    family = "flux2-klein"
    pipeline = "Flux2KleinPipeline"
    references = 4
    lora_targets = TARGETS
    timestep_sampling = "logit_normal"
    guidance = None
    defaults = Defaults(steps=1000, rank=16, learning_rate=1e-4, resolution=1024)
    source = "diffusers examples/dreambooth/train_dreambooth_lora_flux2_klein_img2img.py"
    sample_steps = 28  # the base model (distilled klein needs 4)

    def encode_images(self, pipe, befores, after, device, dtype) -> Tensors:
        vae_dtype = pipe.vae.dtype
        x0 = pipe._encode_vae_image(self.pixels(pipe, after).to(device, vae_dtype), generator=None)
        ids = pipe._prepare_latent_ids(x0).to(device)
        refs = [self.pixels(pipe, b) for b in befores[: self.references]]
        ctrl, ctrl_ids = pipe.prepare_image_latents(images=refs, batch_size=1, generator=None, device=device,
                                                    dtype=vae_dtype)
        import torch

        return {"x0": pipe._pack_latents(x0).to(dtype), "control": ctrl.to(dtype),
                "img_ids": torch.cat([ids, ctrl_ids.to(device)], dim=1)}

    def encode_text(self, pipe, instruction, befores, device, dtype) -> Tensors:
        embeds, text_ids = pipe.encode_prompt(prompt=instruction, device=device)
        return {"prompt_embeds": embeds.to(dtype), "text_ids": text_ids}

    def mu(self, pipe, images) -> float:
        from diffusers.pipelines.flux2.pipeline_flux2_klein import compute_empirical_mu

        return compute_empirical_mu(image_seq_len=images["x0"].shape[1], num_steps=self.sample_steps)

    def predict(self, pipe, model, images, text, noisy, t):
        import torch

        n = noisy.shape[1]
        out = model(hidden_states=torch.cat([noisy, images["control"]], dim=1), timestep=t.expand(1),
                    guidance=self.guidance_tensor(model, noisy.device), encoder_hidden_states=text["prompt_embeds"],
                    txt_ids=text["text_ids"], img_ids=images["img_ids"], return_dict=False)[0]
        return out[:, :n]


class Flux2DevRecipe(Flux2KleinRecipe):
    family = "flux2"
    pipeline = "Flux2Pipeline"
    references = 6
    guidance = 1.0
    source = "diffusers examples/dreambooth/train_dreambooth_lora_flux2_img2img.py"
    sample_steps = 50

    def mu(self, pipe, images) -> float:
        from diffusers.pipelines.flux2.pipeline_flux2 import compute_empirical_mu

        return compute_empirical_mu(image_seq_len=images["x0"].shape[1], num_steps=self.sample_steps)
