"""Exact-Gaussian side of wsgm: closed forms for stationary Gaussian fields.

Modules:

* :mod:`wsgm.gaussian.spectra` -- the power-spectrum family of the Gaussian fields.
* :mod:`wsgm.gaussian.cross_spectra` -- wavelet cross-spectra and conditional spectra.
* :mod:`wsgm.gaussian.scores` -- exact scores of stationary Gaussian fields and the exact WSGM.
* :mod:`wsgm.gaussian.theory` -- closed-form KL of SGM / WSGM under Euler--Maruyama.
* :mod:`wsgm.gaussian.report` -- the computation, tables and plots behind ``wsgm theory``.

This package depends only on :mod:`wsgm.errors`, the file-safety helpers and the
diffusion core (wavelets, SDE, grids, samplers); nothing here imports models, data,
metrics, experiments or commands.
"""
