"""Interpretability of trained image classifiers (curriculum C5), one method per module:

- `filters`: the first convolutional layer's kernels as images (Krizhevsky et al. 2012; Zeiler & Fergus 2014)
- `saliency`: the gradient of a class score with respect to the input (Simonyan, Vedaldi, Zisserman 2014)
- `occlusion`: the drop in the class probability when a grey patch hides part of the image (Zeiler & Fergus 2014)
- `gradcam`: class-weighted feature maps of a convolutional layer (Selvaraju et al. 2017)
- `activation_max`: an input synthesised by gradient ascent to excite one unit (Erhan et al. 2009; Yosinski
  et al. 2015)
- `top_examples`: the test images that excite one channel most (Zeiler & Fergus 2014)

`explain.explain_run` draws any of them for a run directory (`neuralab explain`). The modules take a plain
`nn.Module` and preprocessed tensors, so they work on any network, trained here or not. This file imports
nothing heavy: the CLI reads the method names without importing torch.
"""

METHOD_NAMES = ("filters", "saliency", "occlusion", "gradcam", "activation-max", "top-examples")
