"""Spread each color hint over the region it belongs to, guided by the photo's lightness (no Lightning).

A generator trained with hints colors the hinted patches but, trained on a few hundred photos, hardly changes the
pixels around them. :func:`propagate_hints` fixes that after the network: it spreads the *correction* each hint
asks for, ``hint ab - predicted ab`` at the hinted pixels, to the rest of the mask, and adds it to the prediction.
:func:`hinted_ab` applies it to the network's prediction *without* the hints: a network that copies a hint into its
patch would otherwise leave no correction to spread (scored the same on held-out photos with the bundled model,
whose output hardly depends on its hints).

The correction ``R`` minimizes Levin et al.'s colorization energy (SIGGRAPH 2004) with a pull toward zero::

    sum over neighbouring mask pixels i, j of  w_ij (R_i - R_j)^2   +   lam * sum over unhinted mask pixels of R_i^2

with ``R`` fixed at the hinted pixels, ``w_ij = exp(-(L*_i - L*_j)^2 / (2 sigma^2))`` (4-neighbours). Across an
edge of the photo ``w`` is near 0, so a hint's color stops at the object's outline; within a region of even
lightness it reaches about ``reach`` times the image side before fading (the pull ``lam`` sets that length), so far
from every hint the network's own colors stay. Pixels outside the mask are not in the graph: a hint never crosses
a gray gap, and the output stays exactly the prediction (0 ab) there.

The energy is a sparse symmetric positive definite system, solved batched on the inputs' device with a fixed
number of conjugate-gradient steps per level of an image pyramid (coarse to fine: the coarse levels carry a hint's
color far in few steps, the fine ones restore the edges), so there is no host sync and the cost is a few hundred
stencil passes over the image, independent of the number of hints.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F  # noqa: N812

from colorgan.color import L_SCALE
from colorgan.hints import generate

SIGMA = 8.0
"""Default lightness difference (CIE L* units) over which the coupling of two neighbours falls to exp(-1/2)."""
REACH = 2.0
"""Default decay length of a hint's correction in a region of even lightness, as a multiple of the image side."""
ITERATIONS = 32
"""Default conjugate-gradient steps per pyramid level."""
COARSEST = 16
"""The pyramid halves the image until its longer side is at most this many pixels (where CG's steps cross it)."""

__all__ = ["COARSEST", "ITERATIONS", "REACH", "SIGMA", "edge_weights", "hinted_ab", "propagate_hints"]


def edge_weights(L: torch.Tensor, inside: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: N803
    """Couplings of each pixel to its right and lower neighbour: (B, 1, H, W-1) and (B, 1, H-1, W).

    ``L`` is normalized lightness (B, 1, H, W) (see :mod:`colorgan.color`); ``inside`` (B, 1, H, W) is 1 on the
    pixels in the graph, 0 elsewhere (a coupling to a pixel outside is 0).
    """
    lightness = L.float() * L_SCALE  # L* differences, so sigma reads in the units a photographer knows
    dx = (lightness[..., :, 1:] - lightness[..., :, :-1]).square()
    dy = (lightness[..., 1:, :] - lightness[..., :-1, :]).square()
    wx = torch.exp(dx / (-2 * sigma**2)) * inside[..., :, 1:] * inside[..., :, :-1]
    wy = torch.exp(dy / (-2 * sigma**2)) * inside[..., 1:, :] * inside[..., :-1, :]
    return wx, wy


def _laplacian(x: torch.Tensor, wx: torch.Tensor, wy: torch.Tensor) -> torch.Tensor:
    """The weighted graph Laplacian times ``x`` (B, C, H, W): sum over neighbours j of w_ij (x_i - x_j)."""
    fx = wx * (x[..., :, 1:] - x[..., :, :-1])
    fy = wy * (x[..., 1:, :] - x[..., :-1, :])
    # pad rather than index-assign: out-of-place, so it also runs under autograd and torch.compile
    return (F.pad(-fx, (0, 1)) + F.pad(fx, (1, 0)) + F.pad(-fy, (0, 0, 0, 1)) + F.pad(fy, (0, 0, 1, 0)))


def _solve(L: torch.Tensor, inside: torch.Tensor, hinted: torch.Tensor, fixed: torch.Tensor, x: torch.Tensor,  # noqa: N803
           lam: float, sigma: float, iterations: int) -> torch.Tensor:
    """The correction (B, 2, H, W) on one level: CG from ``x`` on the unhinted pixels inside, ``fixed`` at hints."""
    wx, wy = edge_weights(L, inside, sigma)
    free = inside * (1 - hinted)  # the unknowns

    def apply(v: torch.Tensor) -> torch.Tensor:  # the system restricted to the unknowns: SPD, as CG needs
        v = v * free
        return free * (_laplacian(v, wx, wy) + lam * v)

    x = x * free
    residual = -free * _laplacian(fixed, wx, wy) - apply(x)  # the hints' pull on their neighbours, minus A x
    direction = residual
    norm = residual.square().sum((2, 3), keepdim=True)  # per image and channel: a and b solve independently
    tiny = torch.finfo(torch.float32).tiny
    for _ in range(iterations):
        applied = apply(direction)
        alpha = norm / (direction * applied).sum((2, 3), keepdim=True).clamp_min(tiny)
        x = x + alpha * direction
        residual = residual - alpha * applied
        new_norm = residual.square().sum((2, 3), keepdim=True)
        direction = residual + (new_norm / norm.clamp_min(tiny)) * direction
        norm = new_norm
    return x * free + fixed


def _halve(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, ceil(H/2), ceil(W/2)) by the mean of each 2x2 block (blocks cut by the border too)."""
    height, width = x.shape[-2:]
    return F.avg_pool2d(F.pad(x, (0, width % 2, 0, height % 2), mode="replicate"), 2)


def _correction(L: torch.Tensor, inside: torch.Tensor, hinted: torch.Tensor, fixed: torch.Tensor, reach: float,  # noqa: N803
                sigma: float, iterations: int) -> torch.Tensor:
    """The correction at this level, started from the next coarser level's solution (recursively)."""
    height, width = L.shape[-2:]
    start = torch.zeros_like(fixed)
    if max(height, width) > COARSEST:
        # A coarse pixel is inside if any of its 4 is, hinted if any is; its hint is the mean of theirs.
        hint_share = _halve(hinted)
        coarse_hinted = (hint_share > 0).to(fixed.dtype)
        coarse_fixed = _halve(fixed) / hint_share.clamp_min(0.25) * coarse_hinted
        coarse = _correction(_halve(L), (_halve(inside) > 0).to(fixed.dtype), coarse_hinted, coarse_fixed, reach,
                             sigma, iterations)
        # nearest, not bilinear: a blend of coarse pixels would carry a color across an edge that CG then has to
        # take back, slowly, in a region no hint reaches
        start = F.interpolate(coarse, scale_factor=2.0, mode="nearest")[..., :height, :width]
    lam = 1.0 / (reach * max(height, width)) ** 2
    return _solve(L, inside, hinted, fixed, start, lam, sigma, iterations)


def propagate_hints(L: torch.Tensor, ab: torch.Tensor, condition: torch.Tensor, mask: torch.Tensor, *,  # noqa: N803
                    sigma: float = SIGMA, reach: float = REACH, iterations: int = ITERATIONS) -> torch.Tensor:
    """``ab`` with each hint's correction spread over its region (see the module docstring).

    Args:
        L: (B, 1, H, W) normalized lightness of the photo.
        ab: (B, 2, H, W) the generator's normalized chroma, 0 outside the mask.
        condition: (B, 3, H, W) the hint condition (:mod:`colorgan.hints`): (a, b) of the hints and the hint mask.
        mask: (B, 1, H, W) color mask in [0, 1].
        sigma: lightness difference (L* units) at which neighbours decouple (smaller: stops at fainter edges).
        reach: decay length of a correction in an even region, as a multiple of the longer image side.
        iterations: conjugate-gradient steps per pyramid level.

    Returns:
        (B, 2, H, W) float32: ``ab`` plus the correction scaled by ``mask``; the hint's color on hinted pixels of
        a full mask, ``ab`` unchanged where no hint is given and outside the mask.
    """
    if sigma <= 0 or reach <= 0 or iterations < 0:
        raise ValueError(f"sigma and reach must be > 0 and iterations >= 0, got {sigma}, {reach}, {iterations}")
    ab, mask = ab.float(), mask.float()
    inside = (mask > 0).float()
    hinted = condition[:, 2:3].float() * inside
    fixed = (condition[:, :2].float() - ab) * hinted  # what each hinted pixel asks to change
    correction = _correction(L.float(), inside, hinted, fixed, reach, sigma, iterations)
    return ab + correction * mask


def hinted_ab(generator: Callable[..., torch.Tensor], L: torch.Tensor, mask: torch.Tensor, condition: torch.Tensor,  # noqa: N803
              spread: bool = True, unhinted: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 2, H, W) float32 ab of a hinted ``generator`` given the hint ``condition`` (B, 3, H, W).

    ``spread``: the generator's prediction without hints, corrected by :func:`propagate_hints`; else the
    generator's own use of the hints (``generator(L, mask, condition)``). ``unhinted``: that prediction without
    hints when the caller already has it (scoring several hint counts of one batch runs the network once).
    """
    if not spread:
        return generate(generator, L, mask, condition).float()
    if unhinted is None:
        unhinted = generate(generator, L, mask, torch.zeros_like(condition)).float()
    return propagate_hints(L, unhinted, condition, mask)
