"""Stage 4: one training run (the loop, resume state, signals, outputs) and what it needs (inputs
on the device, augmentation, devices, TensorBoard).
"""
