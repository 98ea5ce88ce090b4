from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .services import team_group_name, user_group_name

# Close codes in the 4000-4999 range are free for applications; 4401 mirrors HTTP 401.
CLOSE_UNAUTHENTICATED = 4401


class UserEventsConsumer(AsyncJsonWebsocketConsumer):
    """One socket per open page: what the server tells this user, or any team of theirs, arrives here."""

    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        team_ids = await database_sync_to_async(list)(user.teams.values_list("id", flat=True))
        self.group_names = [user_group_name(user.id), *map(team_group_name, team_ids)]
        for group_name in self.group_names:
            await self.channel_layer.group_add(group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group_name in getattr(self, "group_names", []):
            await self.channel_layer.group_discard(group_name, self.channel_name)

    async def user_event(self, event):
        await self.send_json(event["payload"])

    async def team_joined(self, event):
        group_name = team_group_name(event["team"])
        if group_name not in self.group_names:
            self.group_names.append(group_name)
            await self.channel_layer.group_add(group_name, self.channel_name)

    async def team_left(self, event):
        group_name = team_group_name(event["team"])
        if group_name in self.group_names:
            self.group_names.remove(group_name)
        await self.channel_layer.group_discard(group_name, self.channel_name)
