"""Loss maths (train/losses.py) on hand-made pixels."""
from __future__ import annotations

import math

import torch

from avatar_studio.generator import paint
from train import losses

SKIN, RED, INK = (0.93, 0.72, 0.54), (0.98, 0.11, 0.42), (0.02, 0.01, 0.01)


def one_pixel(*colour: float, alpha: float = 1.0) -> torch.Tensor:
    """A 1x1 straight-alpha RGBA image (1, 4, 1, 1)."""
    return torch.tensor([*colour, alpha]).view(1, 4, 1, 1)


def palette() -> torch.Tensor:
    return torch.tensor([[SKIN, RED, INK]])  # (1, 3, 3)


def test_a_pixel_saturated_on_the_wrong_colour_still_gets_a_push():
    """A heart pixel painted as skin with a confident softmax: L1's gradient has vanished, the
    palette choice's has not, and it points at the red."""
    logits = torch.tensor([30.0, 0.0, 0.0]).view(1, 3, 1, 1).requires_grad_(True)
    heart = one_pixel(0.99, 0.41, 0.37)  # semi-transparent red over skin: nearest to RED
    alpha_logit = torch.full((1, 1, 1, 1), 10.0)
    losses.reconstruction(paint(logits, palette(), alpha_logit), heart, scales=1).backward()
    assert logits.grad.abs().max() < 1e-9
    logits.grad = None
    losses.palette_choice(logits, palette(), heart, one_pixel(*SKIN)).backward()
    assert logits.grad[0, 1, 0, 0] < -0.99 and logits.grad[0, 0, 0, 0] > 0.99


def test_only_wrongly_painted_pixels_near_a_palette_colour_count():
    real = torch.cat([one_pixel(*SKIN), one_pixel(*INK), one_pixel(0.48, 0.37, 0.28)], dim=3)  # skin, ink, edge
    wrong = torch.tensor([[0.0, 30.0, 30.0], [30.0, 0.0, 0.0], [0.0, 0.0, 0.0]]).view(1, 3, 1, 3)
    painted_right = real.clone()
    assert losses.palette_choice(wrong, palette(), real, painted_right) == 0, "L1 already gets them right"
    painted_wrong = torch.cat([one_pixel(*RED), one_pixel(*SKIN), one_pixel(*SKIN)], dim=3)
    ce = losses.palette_choice(wrong, palette(), real, painted_wrong)
    assert abs(ce - 20.0) < 1e-3, "skin and ink count (30 nats each, over 3 opaque pixels); the edge does not"


def test_palette_choice_on_the_candidate_pixels_equals_the_whole_image_formula():
    """The loss gathers only opaque, wrongly painted pixels: value and gradient equal the formula over
    every pixel (the (B, K, 3, R, R) distance tensor it replaced), on a batch with some of each kind."""
    gen = torch.Generator().manual_seed(3)
    real = torch.rand(3, 4, 16, 16, generator=gen)
    real[:, 3] *= real[:, 3] > 0.4                              # some transparent pixels
    fake = real.clone()
    fake[:, :3, :6] = torch.rand(3, 3, 6, 16, generator=gen)   # some painted wrong
    logits = torch.randn(3, 5, 16, 16, generator=gen).requires_grad_(True)
    pal = torch.rand(3, 5, 3, generator=gen)
    distance = (pal[:, :, :, None, None] - real[:, None, :3]).abs().sum(2)
    nearest, target = distance.min(1)
    weight = real[:, 3] * (nearest < 0.4) * ((fake[:, :3] - real[:, :3]).abs().sum(1) > 0.3)
    assert 20 < int((weight > 0).sum()) < 3 * 16 * 16 // 2
    dense = (torch.nn.functional.cross_entropy(logits, target, reduction="none") * weight).sum() / real[:, 3].sum()
    (want,) = torch.autograd.grad(dense, logits)
    got = losses.palette_choice(logits, pal, real, fake)
    (grad,) = torch.autograd.grad(got, logits)
    assert torch.allclose(got, dense, rtol=1e-6) and torch.allclose(grad, want, atol=1e-7)


def test_reconstruction_ignores_colour_under_zero_alpha():
    a, b = one_pixel(1.0, 0.0, 0.0, alpha=0.0), one_pixel(0.0, 1.0, 0.0, alpha=0.0)
    assert losses.reconstruction(a, b, scales=1) == 0
    assert losses.reconstruction(one_pixel(1.0, 0.0, 0.0), one_pixel(0.0, 1.0, 0.0), scales=1) == 0.5


def test_code_balance_is_zero_for_even_use_and_log_k_for_one_class():
    even = torch.zeros(4, 1, 4)
    one = torch.tensor([[[50.0, 0.0, 0.0, 0.0]]]).expand(4, 1, 4)
    assert abs(losses.code_balance(even)) < 1e-6
    assert abs(losses.code_balance(one) - math.log(4)) < 1e-4


def test_critic_terms_push_the_fake_and_never_the_critic(tiny_data):
    """The frozen critic's feature L1 is zero for the real image itself, its gradient reaches the
    fake's pixels and none of the critic's weights."""
    from train import classifier
    from train.dataset import load_images, read_metadata
    vocab, rows = read_metadata(tiny_data)
    torch.manual_seed(0)
    critic = classifier.AttributeClassifier(classifier.architecture_for(tiny_data)).eval().requires_grad_(False)
    real = load_images(tiny_data, rows[:4], critic.config.size).float() / 255
    index, _ = vocab.encode(rows[:4])
    same, _ = losses.critic_terms(critic, real, real, index)
    assert float(same) == 0.0
    fake = (real * 0.5).requires_grad_(True)
    feature, ce = losses.critic_terms(critic, fake, real, index)
    assert feature.item() > 0 and ce.item() > 0
    (feature + ce).backward()
    assert fake.grad.abs().sum() > 0
    assert all(p.grad is None for p in critic.parameters())


def test_gmsd_is_zero_for_the_same_edges_and_differentiable_where_flat():
    """GMSD (the upsampler's loss term and the export evaluation's metric): 0 for the same image, grows
    with blur, and gives finite gradients on flat crops (no 0/0 in the square root)."""
    from train.losses import gmsd
    torch.manual_seed(0)
    sharp = (torch.rand(2, 3, 32, 32) > 0.5).float()
    blurred = torch.nn.functional.avg_pool2d(sharp, 3, 1, 1)
    assert gmsd(sharp, sharp).abs().max() < 1e-5
    assert (gmsd(blurred, sharp) > 0.05).all()
    flat = torch.full((1, 3, 16, 16), 0.5, requires_grad=True)
    gmsd(flat, torch.full((1, 3, 16, 16), 0.5)).sum().backward()
    assert torch.isfinite(flat.grad).all()
