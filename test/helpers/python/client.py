"""A python-websockets client in the style of the seed's example 1 (client.py).

Usage: client.py URI MODE MESSAGE...

  reply-each    send each message and print the reply to it, then close normally (1000)
  until-closed  send every message, then print replies until the server closes

Prints `< sent`, `> received` and finally `closed CODE REASON`, one per line, flushed.
Written for websockets >= 10: `websockets.connect` as an async context manager.
"""
import asyncio
import sys

import websockets


async def hello(uri, mode, messages):
    async with websockets.connect(uri) as websocket:
        if mode == "reply-each":
            for message in messages:
                await websocket.send(message)
                print(f"< {message}", flush=True)
                reply = await websocket.recv()
                print(f"> {reply}", flush=True)
        else:
            for message in messages:
                await websocket.send(message)
                print(f"< {message}", flush=True)
            try:
                while True:
                    reply = await websocket.recv()
                    print(f"> {reply}", flush=True)
            except websockets.exceptions.ConnectionClosed:
                pass
    print(f"closed {websocket.close_code} {websocket.close_reason}", flush=True)


if __name__ == "__main__":
    asyncio.run(hello(sys.argv[1], sys.argv[2], sys.argv[3:]))
