"""A python-websockets client (compression on, its default) for the compress-once publish test.

Usage: deflate_pubsub_client.py URI ECHOES PUBLISHES

Waits for "go", sends ECHOES JSON messages (each echoed back by the server, which also publishes
one message to every subscriber per echo request it gets), and reads until it has its ECHOES
echoes and PUBLISHES publishes. Checks every echo equals what was sent, in order, and that the
publishes carry seq 0..PUBLISHES-1 in order. Prints `extensions <header>` then `ok` or `bad <why>`.
"""
import asyncio
import json
import sys

import websockets


async def main(uri, echoes, publishes):
    async with websockets.connect(uri, max_size=None) as ws:
        header = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        print(f"extensions {header}", flush=True)
        if await ws.recv() != "go":
            print("bad no go", flush=True)
            return
        sent = []
        for i in range(echoes):
            text = json.dumps({"echo": i, "from": "python", "items": [{"id": j, "name": f"item-{j}", "tags": ["a", "b"]} for j in range(i % 7 + 3)]})
            sent.append(text)
            await ws.send(text)
        got_echoes = []
        next_pub = 0
        while len(got_echoes) < echoes or next_pub < publishes:
            message = await ws.recv()
            data = json.loads(message)
            if "pub" in data:
                if data["pub"] != next_pub:
                    print(f"bad publish {data['pub']} expected {next_pub}", flush=True)
                    return
                next_pub += 1
            else:
                got_echoes.append(message)
        if got_echoes != sent:
            print("bad echoes differ", flush=True)
            return
        print("ok", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
