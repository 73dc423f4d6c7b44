"""The autoencoders of a deep-unsupervised-learning lecture, built on minigrad's public API.

- ``autoencoders.datasets``: MNIST (with offline fallbacks) and colour photo patches, as NumPy.
- ``autoencoders.models``: ``MLPAutoencoder``, ``ConvAutoencoder``, ``VAE``, ``ConvVAE`` and
  their losses (``autoencoder_loss_fn``, ``vae_loss``, ``vae_loss_fn``).
- ``autoencoders.train``: ``Trainer``, the one training loop for all of them, and ``predict``.
- ``autoencoders.plots``: the demos' figures (image grids, loss curves) with matplotlib.
- ``autoencoders.corrupt`` and ``autoencoders.metrics``: corruptions and image metrics for the
  conditioned autoencoders (denoising, super-resolution, completion, colorization).
"""
