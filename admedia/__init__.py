"""The ad-media API: a seeded world simulator with hidden ground-truth CTR, its HTTP server and client.

This package stands alone: it imports nothing else of the project. Heavy modules (fastapi, uvicorn,
requests) are imported only by `server` and `client`, so `admedia.world` stays cheap to import.
"""

__all__ = ["textgen", "world", "server", "client"]
