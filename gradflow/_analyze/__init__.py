"""The parts of ``gradflow analyze``, one concept per module.

- :mod:`.data`: the files a user hands in (``--inputs``, ``--tokens``,
  ``--initial-state``) and the ``--out`` folder, checked before any work;
- :mod:`.model`: what the checkpoint holds besides the recurrent module (its
  embedding and its decoder);
- :mod:`.feed`: the sequences fed to the model, in batches of bounded memory;
- :mod:`.measure`: one batch's per-sequence numbers (the model's own loss or a
  random readout, decay rates over a stationary window, Lyapunov exponents,
  gate statistics);
- :mod:`.summary`: the batches gathered into frames, each statistic with a
  95% interval across sequences;
- :mod:`.precision`: the float64 check of a float32 analysis;
- :mod:`.figures` and :mod:`.write`: one model's figures, tables and REPORT.md;
- :mod:`.compare`: several models side by side.
"""
