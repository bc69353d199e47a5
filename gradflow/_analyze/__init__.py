"""The parts of ``gradflow analyze``, one concept per module.

- :mod:`.data`: the files a user hands in (``--inputs``, ``--tokens``) and the
  ``--out`` folder, checked before any work;
- :mod:`.model`: what the checkpoint holds besides the recurrent module (its
  embedding and its decoder);
- :mod:`.measure`: per-sequence measurements, streamed over batches, and their
  intervals across sequences;
- :mod:`.write`: REPORT.md, figures and tables of one model;
- :mod:`.compare`: several models side by side.
"""
