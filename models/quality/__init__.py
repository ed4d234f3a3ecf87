"""Sample-quality numbers measured with a small Fashion-MNIST classifier: Frechet distance between its
feature Gaussians ("FD (Fashion-MNIST classifier)", not FID: the network is ours, not Inception), KID,
precision / recall (k=3), conditional accuracy and attribute-arithmetic accuracy."""
