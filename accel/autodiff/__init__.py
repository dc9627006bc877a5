"""Tape-based reverse-mode autodiff: recording.py (what ops call), backprop.py (the walk),
tape.py (GradientTape), custom.py (custom_gradient)."""
