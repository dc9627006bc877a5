"""Tape-based reverse-mode autodiff: tape.py (GradientTape), backprop.py (setting up the graph walk,
gradients()), walk.py (the walk's loop), custom.py (custom_gradient). What ops record for the tapes
is accel/recording.py."""
