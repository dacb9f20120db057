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
    # Measured (seed 0, 2026-11-30, OMP_NUM_THREADS=2, a quiet machine): 473 s wall (about 0.47 s a step), test
    # mAP@0.5 0.912, mAP@[.5:.95] 0.662, mAP@0.75 0.790, 44 test images/s; the margin over 0.90 is thin (one seed).
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
    # Measured (2026-12-01, --run.threads 1 on a 2-core machine shared by about nine busy processes, so the walls are
    # several times a quiet run's): seed 0: 2435 s wall, test mAP@0.5 0.924, mAP@[.5:.95] 0.671, mAP@0.75 0.795,
    # mask mAP@0.5 0.851, mask mAP@[.5:.95] 0.460, mask mAP@0.75 0.460; seed 1: 2230 s, mAP@0.5 0.919, mAP 0.669,
    # mAP@0.75 0.790, mask mAP@0.5 0.844, mask mAP 0.453, mask mAP@0.75 0.454. A step costs 1.3 Faster R-CNN steps
    # (0.81 s against 0.62 s, interleaved under the same load, 1 thread: the mask head on up to 32 foreground RoIs
    # per image), so about 10 minutes on a quiet machine with 2 threads.
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
    # Measured (2026-12-01, OMP_NUM_THREADS=1, --run.threads 1, a machine loaded about 5x by other jobs, four runs at
    # once): seed 0: 1785 s wall, test mAP@0.5 0.921, mAP 0.723, 3.4 test images/s; seed 1: 1869 s, mAP@0.5 0.924,
    # mAP 0.724, 6.6 images/s. Wall and images/s under load: to be measured on a quiet machine.
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
    # Measured (2026-12-01, same loaded machine and settings as rcnn-mnist-scenes): seed 0: 1570 s wall, test
    # mAP@0.5 0.926, mAP 0.701, 7.6 test images/s; seed 1: 1583 s, mAP@0.5 0.926, mAP 0.705, 7.1 images/s.
    expect={"test/map_50": (">=", 0.88)},
))
