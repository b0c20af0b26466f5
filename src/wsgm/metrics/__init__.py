"""Observables and spectra of batches of fields from any source (data files, MCMC, models).

- :mod:`wsgm.metrics.spectrum`: 2-d and radially averaged power spectra.
- :mod:`wsgm.metrics.physics`: magnetization (and its histogram), susceptibility, Binder
  cumulant, φ⁴ energy, two-point correlation, integrated autocorrelation time.

Fields are numpy arrays of shape (n, L, L) or (n, C, L, L); nothing here is re-exported,
import the submodule you need.
"""
