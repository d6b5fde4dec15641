"""What the networks see and why: `contest inspect` and the page's look-inside view.

- `analysis`: one image as arrays (the input as the networks see it, feature maps, first-layer
  filters, saliency, occlusion sensitivity, each member's probabilities);
- `features`: the ensemble's penultimate feature space, the cached index of the training images
  in it (nearest neighbours, the label check's probabilities) and a NumPy PCA;
- `setviews`: statistics of a labelled set (confident mistakes, costly confusions, calibration,
  member agreement) and the label check's ranking;
- `sources`: the training and test images an ensemble was made with;
- `payload`: the JSON of the one-image view, shared by the command and the service;
- `plots_image`, `plots_set`: the PNGs (matplotlib, Agg);
- `commands`, `cli`: `contest inspect image|set|labels` and their terminal summaries.
Built on nnlib's activations and input gradients (`nnlib.introspect`).
"""
