"""On-device perception: ONNX models for activity, falls and emotion, and their stages."""
