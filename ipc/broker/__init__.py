"""The broker process (``edgeos: broker``): every datapoint passes through it."""
