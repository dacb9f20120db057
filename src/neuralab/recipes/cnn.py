"""Convolutional-network recipes (curriculum C2)."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="lenet5-mnist", family="cnn", curriculum="C2",
    summary="LeNet-5 (tanh, average pooling, 61,706 parameters) on MNIST; the notes claim 99%.",
    model="lenet5", method="supervised", data="mnist",
    # Random shifts of up to 2.8 px (LeCun et al. also trained on distorted digits) take the net from a
    # 98.9% plateau to 99.1-99.2%; large batches in channels-last order are what oneDNN runs fastest on
    # 2 cores (benchmarks/lenet5_loop.py).
    method_config=dict(optimizer="adam", lr=6e-3, schedule="onecycle", augment=("shift",)),
    data_config=dict(batch_size=512),
    run=RunConfig(epochs=15, log_every=50, channels_last=True),
    expect={"test/acc": (">=", 0.99)},
))

register(Recipe(
    name="lenet5-digits", family="cnn", curriculum="C2", fast_variant_of="lenet5-mnist",
    summary="LeNet-5 on scikit-learn's 8x8 digits upscaled to 28x28: a seconds-long demo of the same net.",
    model="lenet5", method="supervised", data="digits",
    method_config=dict(optimizer="adam", lr=3e-3, schedule="onecycle"),
    data_config=dict(batch_size=64),
    run=RunConfig(epochs=15, log_every=10),
    expect={"test/acc": (">=", 0.95)},
))

# ResNet and GoogLeNet on 28x28 images train on 2 CPU cores only narrow: the fast recipes keep the paper's
# depth and block structure but not its width (ResNet 16 base channels instead of 64, GoogLeNet a quarter of
# every layer's channels), and run in bf16 autocast (--run.amp), which oneDNN runs fast on CPUs with
# AVX-512 bf16 or AMX; on an AVX2-only CPU pass --run.amp false.
register(Recipe(
    name="resnet18-mnist", family="cnn", curriculum="C2",
    summary="ResNet-18 (CIFAR-style 3x3 stem, 16 base channels instead of the paper's 64, 0.7M parameters) on "
            "MNIST; the issue asks >= 99.4%.",
    model="resnet", method="supervised", data="mnist",
    model_config=dict(depth=18, width=16),
    method_config=dict(optimizer="adam", lr=4e-3, schedule="onecycle", augment=("shift",)),
    data_config=dict(batch_size=256),
    run=RunConfig(epochs=3, log_every=50, channels_last=True, amp=True),
    expect={"test/acc": (">=", 0.994)},
))

register(Recipe(
    name="resnet18-fashion", family="cnn", curriculum="C2", fast_variant_of="resnet18-fashion-full",
    summary="ResNet-18 (CIFAR-style 3x3 stem, 16 base channels instead of the paper's 64) on Fashion-MNIST with "
            "random crops and flips.",
    model="resnet", method="supervised", data="fashion-mnist",
    model_config=dict(depth=18, width=16),
    method_config=dict(optimizer="adam", lr=4e-3, schedule="onecycle", augment=("crop", "flip")),
    data_config=dict(batch_size=256),
    run=RunConfig(epochs=4, log_every=50, channels_last=True, amp=True),
    expect={"test/acc": (">=", 0.92)},
))

register(Recipe(
    name="resnet18-fashion-full", family="cnn", curriculum="C2",
    summary="ResNet-18 at the paper's width (64 base channels, 11.2M parameters) with its CIFAR-10 training: SGD "
            "momentum 0.9, lr 0.1 divided by 10 at 50% and 75% of 64k steps of 128, weight decay 1e-4, crops and "
            "flips. Fashion-MNIST stays 28x28 (the CIFAR stem); for a GPU.",
    model="resnet", method="supervised", data="fashion-mnist",
    model_config=dict(depth=18, width=64),
    method_config=dict(optimizer="momentum", lr=0.1, momentum=0.9, weight_decay=1e-4, schedule="step",
                       augment=("crop", "flip")),
    data_config=dict(batch_size=128),
    run=RunConfig(steps=64000, eval_every=2000, log_every=100, channels_last=True),
    expect={"test/acc": (">=", 0.92)},
))

register(Recipe(
    name="googlenet-fashion", family="cnn", curriculum="C2", fast_variant_of="googlenet-fashion-full",
    summary="GoogLeNet (nine inception modules, auxiliary classifiers in training, a quarter of the paper's "
            "channels, small-image stem) on Fashion-MNIST with random crops and flips.",
    model="googlenet", method="supervised", data="fashion-mnist",
    model_config=dict(width=0.25),
    method_config=dict(optimizer="adam", lr=4e-3, schedule="onecycle", augment=("crop", "flip")),
    data_config=dict(batch_size=256),
    run=RunConfig(epochs=3, log_every=50, channels_last=True, amp=True),
    expect={"test/acc": (">=", 0.90)},
))

register(Recipe(
    name="googlenet-fashion-full", family="cnn", curriculum="C2",
    summary="GoogLeNet at the paper's width (auxiliary classifiers weighted 0.3, dropout 0.4) with SGD momentum "
            "0.9 on Fashion-MNIST at 28x28 (small-image stem); the paper's asynchronous schedule (x0.96 every 8 "
            "epochs) is replaced by a step schedule. For a GPU.",
    model="googlenet", method="supervised", data="fashion-mnist",
    model_config=dict(width=1.0),
    method_config=dict(optimizer="momentum", lr=0.05, momentum=0.9, weight_decay=1e-4, schedule="step",
                       augment=("crop", "flip")),
    data_config=dict(batch_size=128),
    run=RunConfig(epochs=60, log_every=100, channels_last=True),
    expect={"test/acc": (">=", 0.90)},
))
