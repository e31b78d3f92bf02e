"""The NeRMo network: time features, shapes, and joints that were never seen stay out of the
attention of the others."""

import math

import pytest
import torch
from torch.fx.experimental.proxy_tensor import make_fx

from nermo_ros.model import Block, ModelConfig, NermoModel, _attention, fourier_features

SMALL = ModelConfig(num_joints=5, layout="test5", width=16, modulation_dim=8, codebook_size=4,
                    num_blocks=2, num_heads=2, fourier_levels=3)


def test_fourier_features_are_time_then_sines_then_cosines_of_doubling_frequencies():
    feats = fourier_features(torch.tensor([0.25]), levels=2)[0]
    expected = [0.25, math.sin(math.pi / 4), math.sin(math.pi / 2), math.cos(math.pi / 4),
                math.cos(math.pi / 2)]
    assert torch.allclose(feats, torch.tensor(expected), atol=1e-6)


def test_model_answers_every_joint_at_every_query_time():
    model = NermoModel(SMALL)
    out = model(torch.rand(3, 7), torch.randn(3, 8), torch.ones(3, 5))
    assert out.shape == (3, 7, 5, 3)


def _outputs_with_joint_code_changed(joint_seen: torch.Tensor, joint: int):
    torch.manual_seed(0)
    model = NermoModel(SMALL)
    t, z = torch.rand(2, 4), torch.randn(2, 8)
    before = model(t, z, joint_seen)
    with torch.no_grad():
        model.joint_codes[joint] += 5.0
    return before, model(t, z, joint_seen)


def test_an_unseen_joint_cannot_change_the_other_joints():
    seen = torch.ones(2, 5)
    seen[:, 2] = 0.0
    before, after = _outputs_with_joint_code_changed(seen, joint=2)
    others = [0, 1, 3, 4]
    assert torch.allclose(before[:, :, others], after[:, :, others], atol=1e-6)


def test_a_seen_joint_does_change_the_other_joints_through_the_attention():
    before, after = _outputs_with_joint_code_changed(torch.ones(2, 5), joint=2)
    assert not torch.allclose(before[:, :, [0, 1, 3, 4]], after[:, :, [0, 1, 3, 4]], atol=1e-4)


def test_config_round_trips_and_names_unknown_keys():
    assert ModelConfig.from_dict(SMALL.to_dict()) == SMALL
    try:
        ModelConfig.from_dict({"num_joints": 3, "widht": 4})
    except ValueError as error:
        assert "widht" in str(error)
    else:
        raise AssertionError("an unknown key must be refused")


def test_checkpoints_from_before_the_frame_stride_fit_every_slot_and_a_bad_stride_is_refused():
    old = SMALL.to_dict()
    del old["adapt_frame_stride"]
    assert ModelConfig.from_dict(old).adapt_frame_stride == 1
    assert "adapt_frame_stride" not in SMALL.shape_dict()
    with pytest.raises(ValueError, match="adapt_frame_stride"):
        ModelConfig(adapt_frame_stride=0)


def test_codebook_attention_as_two_matmuls_equals_per_head_attention():
    """The adapt graph's head-masked form must compute ordinary multi-head attention."""
    torch.manual_seed(3)
    block = Block(ModelConfig(width=32, num_heads=4, codebook_size=8))
    q = torch.randn(50, 32)
    k, v = block.code_kv(block.codebook).chunk(2, dim=-1)
    expected = _attention(q, k, v, 4, None)
    torch.testing.assert_close(block._codebook_attention(q), expected, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(block._codebook_attention(q), _attention(q, k, v, 1, None), atol=1e-3)


def test_dropout_draws_a_new_mask_each_call_and_at_zero_adds_no_operator():
    dropping = ModelConfig(**{**SMALL.to_dict(), "dropout": 0.3, "encoder_dropout": 0.3,
                              "encoder_blocks": 1, "encoder_frames": 4})
    torch.manual_seed(0)
    model = NermoModel(dropping)
    t, z, seen = torch.rand(2, 4), torch.randn(2, 8), torch.ones(2, 5)
    assert not torch.allclose(model(t, z, seen), model(t, z, seen))
    slots = torch.randn(2, 4, dropping.encoder_width)  # the encoder's blocks (its output starts at 0)
    assert not torch.allclose(model.encoder.blocks(slots), model.encoder.blocks(slots))
    # each part drops only with its own field: the encoder alone, or the decoder alone
    encoder_only = NermoModel(ModelConfig(**{**dropping.to_dict(), "dropout": 0.0}))
    encoder_only.load_state_dict(model.state_dict())
    assert torch.equal(encoder_only(t, z, seen), encoder_only(t, z, seen))
    assert not torch.allclose(encoder_only.encoder.blocks(slots), encoder_only.encoder.blocks(slots))
    decoder_only = NermoModel(ModelConfig(**{**dropping.to_dict(), "encoder_dropout": 0.0}))
    decoder_only.load_state_dict(model.state_dict())
    assert torch.equal(decoder_only.encoder.blocks(slots), decoder_only.encoder.blocks(slots))
    assert not torch.allclose(decoder_only(t, z, seen), decoder_only(t, z, seen))
    plain = NermoModel(ModelConfig(**{**dropping.to_dict(), "dropout": 0.0, "encoder_dropout": 0.0}))
    plain.load_state_dict(model.state_dict())
    assert torch.equal(plain(t, z, seen), plain(t, z, seen))
    ops = lambda m: [str(n.target) for n in make_fx(m)(t, z, seen).graph.nodes]  # noqa: E731
    assert any("dropout" in op or "bernoulli" in op for op in ops(model))  # the check can fail
    assert not any("dropout" in op or "bernoulli" in op for op in ops(plain))
    assert {"dropout", "encoder_dropout"}.isdisjoint(dropping.shape_dict())  # the same weights
    with pytest.raises(ValueError, match="dropout"):
        ModelConfig(dropout=1.0)
    with pytest.raises(ValueError, match="encoder_dropout"):
        ModelConfig(encoder_dropout=-0.1)
