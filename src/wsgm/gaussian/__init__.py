"""Exact-Gaussian side of wsgm: closed forms for stationary Gaussian fields.

Modules:

* :mod:`wsgm.gaussian.spectra` -- the power-spectrum family of the Gaussian fields.
* :mod:`wsgm.gaussian.cross_spectra` -- wavelet cross-spectra and conditional spectra.
* :mod:`wsgm.gaussian.scores` -- exact scores of stationary Gaussian fields and the exact WSGM.
* :mod:`wsgm.gaussian.theory` -- closed-form KL of SGM / WSGM with exact scores.
* :mod:`wsgm.gaussian.moments` -- every sampler in closed form (mean gain and variance).
* :mod:`wsgm.gaussian.spectrum_exact` -- the expected generated spectra, spectrum error.
* :mod:`wsgm.gaussian.scaling` -- N_needed vs L per normalization, measure, sampler, grid.
* :mod:`wsgm.gaussian.scaling_report` -- their JSON entries, tables and plots.
* :mod:`wsgm.gaussian.report` -- the computation, tables and plots behind ``wsgm theory``.

This package depends only on :mod:`wsgm.errors`, the file-safety helpers and the
diffusion core (wavelets, SDE, grids, samplers); nothing here imports models, data,
metrics, experiments or commands.
"""
