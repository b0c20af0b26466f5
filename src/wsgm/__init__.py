"""wsgm: Wavelet Score-based Generative Modeling (Guth, Coste, De Bortoli, Mallat, 2022).

Public building blocks:

- :mod:`wsgm.wavelets`  orthogonal periodized wavelet transforms in torch
- :mod:`wsgm.sde`       the Ornstein–Uhlenbeck forward process and its reverse
- :mod:`wsgm.grids`     time grids (plain tensors)
- :mod:`wsgm.samplers`  Euler–Maruyama, exact-OU ancestral and probability-flow samplers
- :mod:`wsgm.gaussian`  exact KL of SGM and WSGM on stationary Gaussian fields
"""

__version__ = "0.1.0"
