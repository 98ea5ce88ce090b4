import asyncio

from channels.layers import InMemoryChannelLayer


class ThreadSafeInMemoryChannelLayer(InMemoryChannelLayer):
    """The in-memory layer, safe to publish to from the embedded worker's threads.

    asyncio queues wake their readers only from their own event loop. The in-process Dramatiq worker publishes
    through async_to_sync, which runs on another loop in another thread, so its sends are carried out on the loop
    that the consumers read on.
    """

    _home_loop: asyncio.AbstractEventLoop | None = None

    async def receive(self, channel):
        self._home_loop = asyncio.get_running_loop()
        return await super().receive(channel)

    async def send(self, channel, message):
        return await self._on_home_loop(super().send(channel, message))

    async def group_send(self, group, message):
        return await self._on_home_loop(super().group_send(group, message))

    async def _on_home_loop(self, operation):
        home = self._home_loop
        if home is None or home is asyncio.get_running_loop() or home.is_closed():
            return await operation
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(operation, home))
