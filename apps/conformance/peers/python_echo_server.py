"""A Python `websockets` echo server, to calibrate the conformance tester against an independent
implementation:  /usr/bin/python3 peers/python_echo_server.py 18765 [deflate]
then:            node dist/main.js --target-port 18765 --role server
"""
import asyncio
import sys

import websockets


async def echo(ws, path=None):
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass


async def main():
    port = int(sys.argv[1])
    compression = 'deflate' if 'deflate' in sys.argv[2:] else None
    async with websockets.serve(echo, '127.0.0.1', port, max_size=16 * 1024 * 1024, compression=compression):
        await asyncio.Future()


asyncio.run(main())
