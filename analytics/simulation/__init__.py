"""Evaluation audio from real recordings: simulated conversations built from real
single-speaker utterances (:mod:`.conversations`) and a telephone degradation chain
(:mod:`.telephone`). Pure numpy/scipy, deterministic for a given seed."""
