"""torch.compile(fullgraph=True) of the training step's work: G's forward and both losses through D.

fullgraph=True turns any graph break into an error. The ``aot_eager`` backend traces the forward and backward
graphs as the GPU's inductor does (graph breaks are decided there), without generating code: inductor takes
about 90 s on 2 CPU cores for these tiny nets, aot_eager a few seconds.
"""

from __future__ import annotations

import pytest
import torch

from colorgan.hints import HINT_CHANNELS, generate, sample_hints
from colorgan.models.patchgan import PatchDiscriminator
from colorgan.models.unet import UNetGenerator
from colorgan.training.objectives import GANObjective


@pytest.mark.parametrize("loss", ["lsgan"])  # the headline loss; the others differ only in the last lines
def test_training_step_compiles_in_one_graph_and_matches_eager(loss: str) -> None:
    torch.manual_seed(0)
    torch._dynamo.reset()
    generator = UNetGenerator(base_channels=4, depth=3, max_channels=16, condition_channels=HINT_CHANNELS)
    discriminator = PatchDiscriminator(base_channels=4, num_layers=2, max_channels=16)
    objective = GANObjective(adversarial_loss=loss)
    L, ab = torch.rand(2, 1, 32, 32) * 2 - 1, torch.rand(2, 2, 32, 32) * 2 - 1  # noqa: N806
    mask = (torch.rand(2, 1, 32, 32) > 0.3).float()
    condition = sample_hints(ab, mask, generator=torch.Generator().manual_seed(0))  # drawn outside, as ColorGAN does

    # Three graphs, as ColorGAN runs them: G's forward; D's loss (on the detached fake); G's loss through D.
    def forward(L: torch.Tensor, mask: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:  # noqa: N803
        return generate(generator, L, mask, condition)

    def d_loss(L: torch.Tensor, ab: torch.Tensor, fake: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # noqa: N803
        return objective.discriminator_loss(discriminator, L, ab, fake, mask)[0]

    def g_loss(L: torch.Tensor, ab: torch.Tensor, fake: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # noqa: N803
        return objective.generator_loss(discriminator, L, ab, fake, mask)[0]

    def run(fns: list) -> list[torch.Tensor]:
        generator.zero_grad(set_to_none=True)
        discriminator.zero_grad(set_to_none=True)
        fake = fns[0](L, mask, condition)
        d = fns[1](L, ab, fake, mask)
        d.backward()
        g = fns[2](L, ab, fake, mask)
        g.backward()
        grads = [p.grad.clone() for p in [*generator.parameters(), *discriminator.parameters()]]
        return [fake.detach(), d.detach(), g.detach(), *grads]

    eager = run([forward, d_loss, g_loss])
    compiled = run([torch.compile(fn, fullgraph=True, backend="aot_eager") for fn in (forward, d_loss, g_loss)])
    for want, got in zip(eager, compiled, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
