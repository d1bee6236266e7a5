"""A python-websockets echo server in the style of the seed's example 1 (server.py).

Usage: server.py PORT   (0 picks a free port)

Prints `listening PORT` once it accepts connections. Echoes every message unchanged (text as
text, binary as binary). The text message `close:CODE:REASON` makes it close the connection
with that code and reason. When a connection ends it prints `closed CODE REASON`.
The handler takes `path=None` so it runs on websockets versions passing one argument or two.
"""
import asyncio
import sys

import websockets


async def echo(websocket, path=None):
    try:
        async for message in websocket:
            if isinstance(message, str) and message.startswith("close:"):
                _, code, reason = message.split(":", 2)
                await websocket.close(int(code), reason)
                break
            await websocket.send(message)
    except websockets.exceptions.ConnectionClosed:
        pass
    await websocket.wait_closed()
    print(f"closed {websocket.close_code} {websocket.close_reason}", flush=True)


async def main(port):
    async with websockets.serve(echo, "127.0.0.1", port, max_size=2**24) as server:
        print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
