"""Metrics of batches of fields and images from any source (data files, MCMC, models).

- :mod:`wsgm.metrics.spectrum`: 2-d and radially averaged power spectra.
- :mod:`wsgm.metrics.physics`: magnetization (and its histogram), susceptibility, Binder
  cumulant, φ⁴ energy, two-point correlation, integrated autocorrelation time.
- :mod:`wsgm.metrics.observables`: ⟨φ²⟩, ⟨|m|⟩, U₄ and χ with blocked-jackknife errors, and
  two ensembles compared in units of their combined standard error.
- :mod:`wsgm.metrics.distances`: distances between two sets of fields (spectrum error,
  Wasserstein-1 of marginals and magnetizations) and their data-vs-data noise floors.
- :mod:`wsgm.metrics.frechet`, :mod:`~wsgm.metrics.inception`,
  :mod:`~wsgm.metrics.classifier`, :mod:`~wsgm.metrics.swd`: image metrics (FID/KID with the
  FID Inception network, Fréchet distance in a wsgm-trained classifier's features, sliced
  Wasserstein on Laplacian-pyramid patches); :mod:`~wsgm.metrics.image_metrics` computes
  them all with their noise floors.

Fields are numpy arrays of shape (n, L, L) or (n, C, L, L); nothing here is re-exported,
import the submodule you need. Nothing here imports :mod:`wsgm.data` (data sets use metrics,
not the reverse): what ``wsgm data inspect`` shows of a data file is :mod:`wsgm.data.summary`.
"""
