"""Local Rekognition-compatible face service (YuNet detection, dlib ResNet embeddings)."""
