"""The local job server for DAW plugins (``stemma serve``): FastAPI on loopback, a bearer
token, one worker process per device, a content cache. Importing this package imports
nothing heavy; ``main.serve`` brings in FastAPI and uvicorn."""
