"""Diagnostics: what gradflow exists to measure.

Everything here takes the engine's outputs as plain arrays (time-major), so
it works the same for every cell, layer and direction:

- step Jacobians ``J`` of shape ``(T, B, S, S)``, ``J[t] = d s_t / d s_{t-1}``
  (``Network.step_jacobians``);
- depth Jacobians ``(T, B, O, I)`` (``Network.depth_jacobians``);
- state adjoints ``(T, B, S)``, ``dL/ds_t`` (``grads.state_adjoints``);
- weight matrices.

Two costs: the *cheap path* (:func:`adjoint_norms`, O(T B S) on top of
backward's O(T B H^2)) is for monitoring at every training step; the *exact
path* (:func:`jacobian_products`, :func:`product_norms`, :func:`lyapunov_spectrum`,
O(T B S^3)) is opt-in. The largest singular value (:func:`spectral_norm`,
``sigma_max``) and the spectral radius (:func:`spectral_radius`, ``rho``) are
different numbers and are named apart everywhere. Non-finite inputs never
crash a diagnostic: they come back as NaN and are counted or flagged.
"""

from gradflow.diagnostics.adjoints import adjoint_norms, adjoint_profile, stable_norm
from gradflow.diagnostics.decay import DecayFit, fit_decay
from gradflow.diagnostics.lyapunov import lyapunov_spectrum
from gradflow.diagnostics.products import (
    jacobian_products,
    layer_products,
    product_norms,
    window_product,
)
from gradflow.diagnostics.spectra import (
    SpectralSummary,
    condition_number,
    singular_values,
    spectral_norm,
    spectral_radius,
    spectral_summary,
)
from gradflow.diagnostics.theory import (
    DrivenMeanField,
    critical_gain,
    depth_factor,
    derivative_bound,
    driven_mean_field,
    forget_gate_timescale,
    mean_field_lyapunov,
    mean_field_variance,
    pascanu_bound,
)
from gradflow.diagnostics.theory_gated import (
    GatedMeanField,
    gru_mean_field,
    lstm_mean_field,
    pytorch_drive,
)

__all__ = [
    "DecayFit",
    "DrivenMeanField",
    "GatedMeanField",
    "SpectralSummary",
    "adjoint_norms",
    "adjoint_profile",
    "condition_number",
    "critical_gain",
    "depth_factor",
    "derivative_bound",
    "driven_mean_field",
    "fit_decay",
    "forget_gate_timescale",
    "gru_mean_field",
    "jacobian_products",
    "layer_products",
    "lstm_mean_field",
    "lyapunov_spectrum",
    "mean_field_lyapunov",
    "mean_field_variance",
    "pascanu_bound",
    "product_norms",
    "pytorch_drive",
    "singular_values",
    "spectral_norm",
    "spectral_radius",
    "spectral_summary",
    "stable_norm",
    "window_product",
]
