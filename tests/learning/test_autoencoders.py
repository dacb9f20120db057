"""Learning sanity of the autoencoders (curriculum G2): a linear autoencoder finds the PCA subspace (scipy's
principal angles against scikit-learn's PCA), a denoising one removes noise a plain one cannot, sparsity penalties
make sparser codes, a class never seen in training reconstructs worse (ROC AUC), greedy pre-training trains one
layer at a time. Small nets on scikit-learn's 8x8 digits: a few seconds each."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA

from neuralab.build import build, resolve
from neuralab.config import RunConfig
from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.errors import UserError
from neuralab.methods.autoencoding import corrupt
from neuralab.recipes.recipe import Recipe

STEPS = 400


def make(model: dict, method: dict, data: dict | None = None, prebuilt: SupervisedData | None = None):
    """An autoencoder run on the 8x8 digits (pixels in [0, 1]) or on `prebuilt` data, built but not trained."""
    recipe = Recipe(name="autoencoder-test", family="autoencoder", summary="", curriculum="G2",
                    model="mlp_autoencoder", method="autoencoding", data="digits", model_config=model,
                    method_config={"lr": 3e-3, **method},
                    data_config={"normalize": "scale", "image_size": 8, "batch_size": 64, **(data or {})},
                    run=RunConfig(steps=STEPS, device="cpu"))
    return build(recipe, resolve(recipe, {}), data=prebuilt)


def train(run, steps: int = STEPS) -> dict[str, float]:
    for _ in range(steps):
        run.method.step(run.data.next_batch())
    return run.method.evaluate()


def test_linear_autoencoder_decoder_spans_the_pca_subspace():
    """Baldi and Hornik 1989: a linear autoencoder with k code units trained on squared error spans the top-k
    principal subspace (its weights need not be the components themselves)."""
    g = torch.Generator().manual_seed(0)
    d, k = 16, 3
    scales = torch.tensor([3.0, 2.5, 2.0] + [0.5] * (d - k))  # a clear gap after the third component
    rotation, _ = torch.linalg.qr(torch.randn(d, d, generator=g))
    x = (torch.randn(1000, d, generator=g) * scales) @ rotation.T + 1.0  # off-centre: the biases learn the mean
    y = torch.zeros(1000, dtype=torch.long)
    meta = DataMeta(kind="features", input_shape=[d], num_classes=0, class_names=[], source="gaussian")
    data = SupervisedData((x, y), (x, y), meta, batch_size=250, seed=0)
    run = make({"hidden": (), "code": k, "linear": True}, {"loss": "mse", "lr": 0.03}, prebuilt=data)
    components = PCA(k).fit(x.numpy()).components_.T  # (d, k)

    def max_angle() -> float:
        return float(np.degrees(subspace_angles(run.model.decoder_weight(0).detach().numpy(), components)).max())

    assert max_angle() > 30  # a random decoder is far from it
    train(run)
    assert max_angle() < 3


def test_denoising_autoencoder_cleans_noisy_inputs_better_than_a_plain_one_and_than_identity():
    for noise, level in (("masking", 0.5), ("gaussian", 0.3)):
        plain = make({"hidden": (32,), "code": 8}, {})
        train(plain)
        denoising = make({"hidden": (32,), "code": 8}, {"noise": noise, "noise_level": level})
        metrics = train(denoising)
        x = plain.data.x_test
        noisy = corrupt(x, noise, level, torch.Generator().manual_seed(0))  # the method's evaluation noise
        plain.model.eval()
        with torch.no_grad():
            plain_mse = float((plain.model(noisy) - x).pow(2).mean())
        assert metrics["test/denoised_mse"] < 0.95 * plain_mse, (noise, metrics, plain_mse)
        assert metrics["test/denoised_mse"] < 0.6 * metrics["test/noisy_mse"], (noise, metrics)


def test_kl_sparsity_pulls_mean_code_activation_to_the_target():
    model = {"hidden": (), "code": 32, "code_activation": "sigmoid"}
    plain = train(make(model, {}))
    sparse = train(make(model, {"sparsity": "kl", "sparsity_weight": 0.1, "sparsity_target": 0.05}))
    assert plain["test/code_mean"] > 0.3
    assert sparse["test/code_mean"] < 0.1


def test_l1_activity_penalty_makes_relu_codes_sparser():
    model = {"hidden": (), "code": 32, "code_activation": "relu"}
    plain = train(make(model, {}))
    sparse = train(make(model, {"sparsity": "l1", "sparsity_weight": 0.01}))
    assert sparse["test/code_sparseness"] > plain["test/code_sparseness"] + 0.4, (plain, sparse)


def test_a_class_held_out_of_training_scores_as_an_anomaly():
    run = make({"hidden": (32,), "code": 8}, {}, {"exclude_class": 8})
    assert 8 not in run.data.y_train.tolist()
    metrics = train(run)
    assert metrics["test/anomaly_auc"] > 0.7


def test_greedy_pretraining_trains_one_layer_at_a_time_then_the_whole_stack():
    run = make({"hidden": (16,), "code": 4}, {"pretrain_steps": 30})
    model = run.model

    def snapshot() -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    def changed(before: dict[str, torch.Tensor]) -> set[str]:
        return {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}

    for layer in (0, 1):
        before = snapshot()
        losses = [run.method.step(run.data.next_batch()) for _ in range(30)]
        assert all(m["pretrain/layer"] == layer and "train/loss" not in m for m in losses)
        assert changed(before) == {f"encoder.{layer}.weight", f"encoder.{layer}.bias", f"decoder.{layer}.weight",
                                   f"decoder.{layer}.bias"}
        assert float(losses[-1]["pretrain/loss"]) < float(losses[0]["pretrain/loss"])
    before = snapshot()
    assert "train/loss" in run.method.step(run.data.next_batch())
    assert changed(before) == set(before)  # fine-tuning moves every parameter


def test_draw_decodes_codes_from_the_fitted_gaussian_and_refuses_a_label():
    run = make({"hidden": (16,), "code": 4}, {})
    train(run, 50)
    method = run.method
    codes = run.model.encode(run.data.x_train).detach()
    torch.testing.assert_close(method.code_mean, codes.mean(0))
    drawn = method.draw(10, seed=3)
    assert drawn.images.shape == (10, 1, 8, 8) and 0 <= float(drawn.images.min()) <= float(drawn.images.max()) <= 1
    assert torch.equal(method.draw(10, seed=3).images, drawn.images)
    path = method.draw(10, interpolate=True, seed=3)
    assert path.nrow == 8 and path.images.shape[0] == 16  # two rows of 8 frames
    with pytest.raises(UserError, match="not conditional"):
        method.draw(4, label=1)
