"""Object detection recipes (curriculum C8): R-CNN (Girshick et al. 2014), Fast R-CNN (Girshick 2015), Faster
R-CNN (Ren et al. 2015) with RoIAlign heads and Mask R-CNN (He et al. 2017) on scenes of MNIST digits placed on
128x128 canvases, sized to train on 2 CPU cores in minutes: small conv networks of 32-64 channels instead of AlexNet,
VGG16 or a ResNet with a feature pyramid, about 200 proposals per image from a selective-search-style generator
instead of 2000 (R-CNN, Fast R-CNN), anchors of 16-44 pixels for objects of 20-40 (Faster R-CNN), 64-128 sampled
regions per image, and a mask head of 32 channels instead of 256. They show the notes' steps: R-CNN runs its CNN once
per region and is slow at test time, Fast R-CNN runs it once per image, Faster R-CNN also learns the proposals, and
Mask R-CNN adds a mask per object.
"""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="faster-rcnn-mnist-scenes", family="detection", curriculum="C8",
    summary="Faster R-CNN (RPN + RoIAlign box head, torchvision's losses) detecting and classifying the digits of "
            "128x128 MNIST scenes (1-6 digits of 20-40 px, occluding each other); COCO mAP on the test scenes.",
    model="faster-rcnn", method="detection", data="mnist-scenes",
    method_config=dict(schedule="onecycle", lr=2e-3),
    data_config=dict(batch_size=8, n_test=300),
    run=RunConfig(steps=1000, eval_every=1000, log_every=50, threads=2),
    # Measured over seeds 0-2, wall time and test images/s on 2 cores: docs/detection.md (`make detection-docs`).
    expect={"test/map_50": (">=", 0.90)},
))

register(Recipe(
    name="mask-rcnn-mnist-scenes", family="detection", curriculum="C8",
    summary="Mask R-CNN (Faster R-CNN with a mask head: RoIAlign 14x14, four convs, a deconvolution, 28x28 masks "
            "per class) detecting and segmenting the digits of 128x128 MNIST scenes; COCO box and mask mAP on the "
            "test scenes.",
    model="mask-rcnn", method="detection", data="mnist-scenes",
    method_config=dict(schedule="onecycle", lr=2e-3),
    data_config=dict(batch_size=8, n_test=300),
    run=RunConfig(steps=1000, eval_every=1000, log_every=50, threads=2),
    # Measured over seeds 0-2, wall time and test images/s on 2 cores: docs/detection.md (`make detection-docs`).
    expect={"test/map_50": (">=", 0.90), "test/mask_map_50": (">=", 0.80)},
))

register(Recipe(
    name="rcnn-mnist-scenes", family="detection", curriculum="C8",
    summary="R-CNN (selective-search-style proposals, each region warped to 32x32 and classified by its own small "
            "CNN, softmax + box regression) on the 128x128 MNIST scenes; COCO mAP and images/s on the test scenes.",
    model="rcnn", method="detection", data="mnist-scenes",
    method_config=dict(schedule="onecycle", lr=2e-3, eval_batch_size=10),
    data_config=dict(batch_size=8, n_test=300),
    run=RunConfig(steps=600, eval_every=600, log_every=50, threads=2),
    # Measured over seeds 0-2, wall time and test images/s on 2 cores: docs/detection.md (`make detection-docs`).
    expect={"test/map_50": (">=", 0.88)},
))

register(Recipe(
    name="fast-rcnn-mnist-scenes", family="detection", curriculum="C8",
    summary="Fast R-CNN (the same proposals, one shared stride-4 feature map per image, RoI max pooling 7x7, softmax "
            "+ box regression) on the 128x128 MNIST scenes; COCO mAP and images/s on the test scenes.",
    model="fast-rcnn", method="detection", data="mnist-scenes",
    method_config=dict(schedule="onecycle", lr=2e-3),
    data_config=dict(batch_size=8, n_test=300),
    run=RunConfig(steps=1000, eval_every=1000, log_every=50, threads=2),
    # Measured over seeds 0-2, wall time and test images/s on 2 cores: docs/detection.md (`make detection-docs`).
    expect={"test/map_50": (">=", 0.88)},
))
