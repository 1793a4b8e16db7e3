"""SlimAdam: second-moment SNR of Adam, compression rules, the optax transform and small SNR sweeps.

Modules: :mod:`~gemstones.snr.slimadam` (the optax transform and state sizes), :mod:`~gemstones.snr.io`
(SNR tables, layer maps and rules files), :mod:`~gemstones.snr.sweep` (training runs that record SNR).
"""
