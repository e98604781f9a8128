"""Cloud tier: face recognition (AWS Rekognition), attendance storage, ingest, API."""
