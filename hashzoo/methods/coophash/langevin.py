"""Langevin revision of proposals under the descriptor's energy (docs/coophash.md).

    x <- x + (delta^2 / 2) * (clip(grad_x F(x, y)) - x / s^2) + eta * delta * xi

T steps, the gradient taken on the images only, each chain independent of
the rest of the batch (the trunk has no batch-coupled ops), the result under
stop-gradient. `clip` bounds each image's gradient on its own (root-mean-square
over its pixels), so one exploding chain cannot throw its proposal far off.
Noise (eta = 1) is drawn per step from a stateless seed over the global
batch, so replicas draw different noise (`hashzoo.distribute`).
"""

import tensorflow as tf

from hashzoo import distribute
from hashzoo.methods.coophash.stability import check_clip, clip_per_image


class LangevinSampler:
    """A compiled T-step Langevin revision; one trace per input shape.

    Args:
        energy_fn: callable `(x, y) -> F(x, y)` `[B]` (negative energy).
        steps: int T >= 0 (0 returns the proposals unchanged).
        step_size: float delta.
        reference_std: float s, std of the Gaussian reference density.
        noise: bool, add `delta * xi` each step.
        clip: bool, clip the result to [-1, 1].
        grad_clip: float or None; each image's `grad_x F` is scaled down
            so its root-mean-square over pixels is at most this (None: off).
    """

    def __init__(self, energy_fn, steps, step_size, reference_std, noise=False, clip=True, grad_clip=None):
        if int(steps) < 0:
            raise ValueError(f"`langevin_steps` must be >= 0, got {steps}.")
        if not step_size > 0 or not reference_std > 0:
            raise ValueError(
                f"`langevin_step_size` and `langevin_reference_std` must be > 0, got {step_size} and {reference_std}."
            )
        self.energy_fn = energy_fn
        self.steps = int(steps)
        self.step_size = float(step_size)
        self.reference_std = float(reference_std)
        self.noise = bool(noise)
        self.clip = bool(clip)
        self.grad_clip = check_clip(grad_clip, "langevin_grad_clip")
        self.revise = tf.function(self._revise, reduce_retracing=True)

    def step(self, x, y, seed=None):
        """One update (no clipping, no stop-gradient), exposed for tests."""
        with tf.GradientTape() as tape:
            tape.watch(x)
            total_energy = tf.reduce_sum(self.energy_fn(x, y))
        grad = clip_per_image(tape.gradient(total_energy, x), self.grad_clip)
        x_next = x + 0.5 * self.step_size**2 * (grad - x / self.reference_std**2)
        if self.noise:
            x_next += self.step_size * distribute.replica_normal(tf.shape(x), seed)
        return x_next

    def _revise(self, x, y, seed):
        for t in range(self.steps):
            x = self.step(x, y, tf.random.experimental.stateless_fold_in(seed, t) if self.noise else None)
        if self.clip:
            x = tf.clip_by_value(x, -1.0, 1.0)
        return tf.stop_gradient(x)
