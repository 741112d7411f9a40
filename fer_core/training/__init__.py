"""Training: the trainer, augmentation, generated frames, and the detector's small networks."""
