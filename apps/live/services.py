import os
import socket

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def user_group_name(user_id: int) -> str:
    return f"user-{user_id}"


def team_group_name(team_id: int) -> str:
    return f"team-{team_id}"


def user_event_publish(*, user_id: int, payload: dict) -> None:
    """Push an event to every open page of one user."""
    message = {"type": "user.event", "payload": payload}
    async_to_sync(get_channel_layer().group_send)(user_group_name(user_id), message)


def team_event_publish(*, team_id: int, payload: dict) -> None:
    """Push an event to every open page of every member of a team."""
    message = {"type": "user.event", "payload": payload}
    async_to_sync(get_channel_layer().group_send)(team_group_name(team_id), message)


def membership_changed_publish(*, user_id: int, team_id: int, joined: bool) -> None:
    """Have a user's open sockets start or stop listening to a team, so someone removed from a team stops
    receiving its events at once, not at their next page load."""
    message = {"type": "team.joined" if joined else "team.left", "team": team_id}
    async_to_sync(get_channel_layer().group_send)(user_group_name(user_id), message)


def worker_description() -> dict:
    """Where a worker runs and what it computes on, as shown to users."""
    import torch  # here, not at the top: only workers call this, and the web process must not load PyTorch
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    return {"host": socket.gethostname(), "pid": os.getpid(), "device": device}


def worker_ping_answer(*, user_id: int, token: str) -> None:
    """Tell a user's pages that a worker picked up their ping."""
    user_event_publish(user_id=user_id, payload={"type": "worker.pong", "token": token, **worker_description()})
