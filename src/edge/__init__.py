"""Edge tier: receive camera frames, detect people and faces, track them, send face crops to the cloud.

Importing this package is cheap (no OpenCV / ONNX Runtime), so ``edge.models_cli``
also runs in the export virtual environment.
"""
