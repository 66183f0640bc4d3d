"""Opens N subscriptions over Server-Sent Events at a router, waits, and counts the events
received; `bench/subscribers.sh` drives it."""
import asyncio
import json
import sys


async def main(port: int, n: int, token: str, seconds: float) -> None:
    body = json.dumps({"query": "subscription { myOrderUpdates { status order { id lines { product { name } } } } }"})
    request = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n"
        f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()
    received = [0]

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        await writer.drain()
        while line := await reader.readline():
            if line.startswith(b"event: next"):
                received[0] += 1

    tasks = [asyncio.create_task(one()) for _ in range(n)]
    await asyncio.sleep(seconds)
    print(f"events received: {received[0]} of {n}", flush=True)
    for task in tasks:
        task.cancel()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])))
