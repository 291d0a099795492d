"""InstructPix2Pix: a Stable Diffusion UNet whose 8 input channels are the noisy edited latents and
the original's latents.

After diffusers' ``examples/instruct_pix2pix/train_instruct_pix2pix.py`` (read, not copied): the
edited image's latents are the VAE's, scaled; the original's are the VAE's mode unscaled, as the
pipeline's ``prepare_image_latents`` makes them; DDPM noise at a uniform integer timestep; the
target is ε (or v, by the scheduler's prediction type); the original image is dropped 5 % of the
time (as in the paper, for image guidance), like the instruction.
"""

from __future__ import annotations

from training.recipes.base import Defaults, Recipe, Tensors

IMAGE_DROPOUT = 0.05


class Pix2PixRecipe(Recipe):
    family = "instruct-pix2pix"
    pipeline = "StableDiffusionInstructPix2PixPipeline"
    denoiser = "unet"
    lora_targets = ("to_q", "to_k", "to_v", "to_out.0")
    defaults = Defaults(steps=1000, rank=16, learning_rate=1e-4, resolution=512)
    source = "diffusers examples/instruct_pix2pix/train_instruct_pix2pix.py"

    def encode_images(self, pipe, befores, after, device, dtype) -> Tensors:
        vae = pipe.vae
        x0 = vae.encode(self.pixels(pipe, after).to(device, vae.dtype)).latent_dist.mode()
        ctrl = vae.encode(self.pixels(pipe, befores[0]).to(device, vae.dtype)).latent_dist.mode()
        return {"x0": (x0 * vae.config.scaling_factor).to(dtype), "control": ctrl.to(dtype)}

    def encode_text(self, pipe, instruction, befores, device, dtype) -> Tensors:
        embeds = pipe._encode_prompt(instruction, device, 1, False)
        return {"prompt_embeds": embeds.to(dtype)}

    def _ddpm(self, pipe):
        sched = getattr(self, "_scheduler", None)
        if sched is None:
            from diffusers import DDPMScheduler

            sched = self._scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        return sched

    def draw(self, gen, x0):
        import torch

        noise = torch.randn(x0.shape, generator=gen, dtype=torch.float32)
        u = torch.rand((2,), generator=gen)  # the timestep, and whether the original image is dropped
        return noise, u

    def loss(self, pipe, model, images, text, noise, u):
        import torch

        sched = self._ddpm(pipe)
        x0 = images["x0"]
        n = sched.config.num_train_timesteps
        t = torch.clamp((u[:1] * n).long(), max=n - 1).to(x0.device)
        noise = noise.to(x0.device, x0.dtype)
        noisy = sched.add_noise(x0, noise, t)
        ctrl = images["control"] * (0.0 if float(u[1]) < IMAGE_DROPOUT else 1.0)
        pred = model(torch.cat([noisy, ctrl], dim=1), t, encoder_hidden_states=text["prompt_embeds"],
                     return_dict=False)[0]
        target = noise if sched.config.prediction_type == "epsilon" else sched.get_velocity(x0, noise, t)
        return torch.nn.functional.mse_loss(pred.float(), target.float())
