"""A TCP relay between satellite and core that a test can cut like a cable.

``cut()`` stops forwarding without closing anything (both ends see silence, as when a
cable is pulled: only heartbeats notice); ``restore()`` forwards again and closes the
connections that were open during the cut, as a real link's half-dead sessions are
gone by then. Runs an asyncio loop in a thread of the test process; loopback only.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class Relay:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.cut_now = False
        self.loop = asyncio.new_event_loop()
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self._ready.wait(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._client, self.host, 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        with contextlib.suppress(asyncio.CancelledError):  # close() ends it quietly
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer),
                                 return_exceptions=True)
        for w in (writer, up_writer):
            self._writers.discard(w)
            w.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if not self.cut_now:  # cut: the bytes vanish, as on a pulled cable
                    writer.write(data)
                    await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def cut(self) -> None:
        self.cut_now = True

    def restore(self) -> None:
        def _restore() -> None:
            for w in list(self._writers):
                w.transport.abort()
            self._writers.clear()
            self.cut_now = False
        self.loop.call_soon_threadsafe(_restore)

    def close(self) -> None:
        def _close() -> None:
            for w in list(self._writers):
                w.transport.abort()
            self.server.close()
            for task in asyncio.all_tasks(self.loop):
                task.cancel()
            self.loop.call_later(0.1, self.loop.stop)
        self.loop.call_soon_threadsafe(_close)
        self.thread.join(5)
        self.loop.close()
