"""Tape-based reverse-mode autodiff: tape.py (GradientTape), backprop.py (the graph walk,
gradients()), custom.py (custom_gradient). What ops record for the tapes is accel/recording.py."""
