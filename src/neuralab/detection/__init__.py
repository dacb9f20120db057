"""Object detection building blocks (curriculum C8), written in torch with torchvision's conventions (torchvision
does not import beside torch here). One concept per module:

- `boxes`: box area, pairwise IoU, clipping, small-box removal and the R-CNN box coder (Girshick et al. 2014;
  Ren et al. 2015)
- `nms`: greedy non-maximum suppression, and per class through the coordinate-offset trick
- `roi`: RoI pooling (Girshick 2015) and RoIAlign (He et al. 2017) over a batch of feature maps
- `anchors`: anchors over a feature map's grid (Ren et al. 2015), as torchvision's AnchorGenerator
- `matching`: matching candidate boxes to ground truth and balanced sampling for a batch (Ren et al. 2015)
- `proposals`: selective-search-style region proposals without learning (Uijlings et al. 2013), for R-CNN and
  Fast R-CNN
- `average_precision`: COCO-style mAP@0.5 and mAP@[.5:.95] (101-point interpolated AP, greedy matching)

Boxes are (x1, y1, x2, y2) float tensors in pixels throughout.
"""
