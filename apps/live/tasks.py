import dramatiq

from . import services


@dramatiq.actor(max_retries=0, time_limit=30_000)
def ping_worker(user_id: int, token: str) -> None:
    """Answer a page's ping through the channel layer: proves broker, worker and websocket work together."""
    services.worker_ping_answer(user_id=user_id, token=token)
