"""One-shot demo seeder: enrols demo students, opens a session and prepares demo camera
frames, using only the cloud's HTTP API (``python -m demo_seed --help``)."""
