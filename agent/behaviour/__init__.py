"""Behaviour: characteristic-set rules and the ONNX models that classify visits."""
