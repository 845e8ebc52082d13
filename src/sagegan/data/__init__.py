"""Data layer: reading, pairing, calibration, databar cropping, normalisation, splits, patches,
augmentation and the torch Dataset."""
