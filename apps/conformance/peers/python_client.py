"""An independent peer: Debian's Python `websockets` library as a strict client against Stelar.

    /usr/bin/python3 peers/python_client.py echo   ws://127.0.0.1:PORT/ [--deflate]
    /usr/bin/python3 peers/python_client.py stelar ws://127.0.0.1:PORT/ [--deflate]
    /usr/bin/python3 peers/python_client.py edge   ws://127.0.0.1:PORT/ [--deflate]

`echo`: against the Stelar echo server (transport-node's WsConnection): text and binary messages
from 0 bytes to 16 MiB, whole and fragmented, pings, the closing handshake.
`stelar`: the Stelar protocol (docs/protocol.md) over a `createServer` server: CONNECT, requests
(ACK_REQ/ACK_RES), binary events up to 16 MiB, JOIN, and a text message closed with 1003.
`edge`: one incompressible message of exactly 16 MiB (the echo server's limit).

`websockets` fails the connection on any RFC 6455 / RFC 7692 violation in what Stelar sends
(masking, reserved bits, UTF-8, close codes, compression), so a run that completes is one where
every frame Stelar sent was accepted by an independent strict implementation. Prints one JSON
object per check and a final summary; exits 1 on any failure.
"""
import asyncio
import json
import os
import struct
import sys
import time

import websockets

MIB = 1024 * 1024
SIZES = [0, 1, 125, 126, 127, 128, 65535, 65536, 65537, MIB, 4 * MIB, 16 * MIB]

results = []


def record(name, ok, **extra):
    results.append({'check': name, 'ok': bool(ok), **extra})
    print(json.dumps({'check': name, 'ok': bool(ok), **extra}), flush=True)


def text_of(n):
    unit = 'Hello-µ@ßöäüàá-UTF-8!! κόσμε 𝄞 '
    s = (unit * (n // len(unit.encode()) + 1)).encode()[:n]
    # Cut on a character boundary and pad with ASCII to exactly n bytes.
    while True:
        try:
            t = s.decode()
            break
        except UnicodeDecodeError:
            s = s[:-1]
    return t + '*' * (n - len(t.encode()))


def chunks(data, size):
    return [data[i:i + size] for i in range(0, len(data), size)] or [data[:0]]


async def echo_checks(url, deflate):
    async with websockets.connect(url, compression='deflate' if deflate else None, max_size=32 * MIB,
                                  ping_interval=None, close_timeout=5) as ws:
        record('negotiated', (ws.extensions != []) == deflate, extensions=[type(e).__name__ for e in ws.extensions])
        for n in SIZES:
            for kind in ('binary', 'text'):
                if kind == 'binary' and deflate and n == 16 * MIB:
                    # Compressed, 16 MiB of random bytes grow past the frame limit: see `edge`.
                    n = 16 * MIB - 64 * 1024
                data = os.urandom(n) if kind == 'binary' else text_of(n)
                t0 = time.perf_counter()
                await ws.send(data)
                back = await ws.recv()
                record(f'echo {kind} {n} B', back == data, ms=round((time.perf_counter() - t0) * 1000))
        # Fragmented sends: websockets sends an iterable as one fragmented message.
        for n, size in ((0, 1), (300, 1), (65536, 1000), (MIB, 4096), (16 * MIB, MIB)):
            data = os.urandom(n)
            await ws.send(chunks(data, size))
            record(f'fragmented binary {n} B in frames of {size} B', await ws.recv() == data)
        text = text_of(100_000)
        await ws.send([text[i:i + 777] for i in range(0, len(text), 777)])
        record('fragmented text 100000 chars in frames of 777 chars', await ws.recv() == text)
        waiter = await ws.ping(b'stelar-ping')
        await asyncio.wait_for(waiter, 5)
        record('ping answered with the same payload', True)
        await ws.close(4321, 'bye')
        record('closing handshake echoed the code', ws.close_code == 4321, code=ws.close_code)


def stelar_frame(ftype, event=b'', payload=b''):
    return struct.pack('>BH', ftype, len(event)) + event + payload


def parse_frame(msg):
    ftype, elen = struct.unpack('>BH', msg[:3])
    return ftype, msg[3:3 + elen], msg[3 + elen:]


async def stelar_checks(url, deflate):
    async with websockets.connect(url, compression='deflate' if deflate else None, max_size=32 * MIB,
                                  ping_interval=None, close_timeout=5) as ws:
        record('negotiated', (ws.extensions != []) == deflate)
        await ws.send(stelar_frame(0x07, b'', json.dumps({'v': 1}).encode()))
        ftype, _, payload = parse_frame(await ws.recv())
        hello = json.loads(payload)
        record('CONNECT answered with a session', ftype == 0x07 and bool(hello.get('id')), hello=hello)
        # Requests: ACK_REQ 'echo' → ACK_RES with the same data.
        for i, data in enumerate([None, 1, 'κόσμε', {'a': [1, 2, 3]}, 'x' * 100_000]):
            body = b'' if data is None else json.dumps(data).encode()
            await ws.send(stelar_frame(0x05, b'echo', struct.pack('>I', i + 1) + body))
            ftype, event, payload = parse_frame(await ws.recv())
            rid, status = struct.unpack('>IB', payload[:5])
            got = json.loads(payload[5:]) if payload[5:] else None
            record(f'request {i + 1} answered', ftype == 0x06 and event == b'echo' and rid == i + 1 and status == 0 and got == data)
        # Binary events echoed by the server, up to 16 MiB of payload (frame = 3 + 3 + n bytes).
        for n in (0, 1, 65536, MIB, 16 * MIB - 16):
            data = os.urandom(n)
            t0 = time.perf_counter()
            await ws.send(stelar_frame(0x02, b'bin', data))
            ftype, event, payload = parse_frame(await ws.recv())
            record(f'binary event {n} B echoed', ftype == 0x02 and event == b'bin' and payload == data,
                   ms=round((time.perf_counter() - t0) * 1000))
        # A binary event sent fragmented.
        data = os.urandom(200_000)
        await ws.send(chunks(stelar_frame(0x02, b'bin', data), 1000))
        ftype, event, payload = parse_frame(await ws.recv())
        record('fragmented binary event echoed', ftype == 0x02 and payload == data)
        # JOIN with a request id → ACK_RES true.
        await ws.send(stelar_frame(0x09, b'lobby', struct.pack('>I', 77)))
        ftype, event, payload = parse_frame(await ws.recv())
        record('JOIN acknowledged', ftype == 0x06 and event == b'lobby' and payload == struct.pack('>IB', 77, 0) + b'true')
        # A Stelar PING is answered with a PONG carrying the same bytes.
        await ws.send(stelar_frame(0x03, b'', b'abc'))
        ftype, _, payload = parse_frame(await ws.recv())
        record('Stelar PING answered', ftype == 0x04 and payload == b'abc')
        # Text messages are not part of the protocol: close 1003.
        await ws.send('not a Stelar frame')
        try:
            while True:
                await ws.recv()
        except websockets.ConnectionClosed as e:
            record('text message closed with 1003', e.rcvd is not None and e.rcvd.code == 1003, code=e.rcvd and e.rcvd.code)


async def edge_checks(url, deflate):
    """A random (incompressible) 16 MiB message, exactly the server's message limit."""
    async with websockets.connect(url, compression='deflate' if deflate else None, max_size=32 * MIB,
                                  ping_interval=None, close_timeout=5) as ws:
        data = os.urandom(16 * MIB)
        try:
            await ws.send(data)
            record('incompressible 16 MiB message echoed', await ws.recv() == data)
        except websockets.ConnectionClosed as e:
            record('incompressible 16 MiB message echoed', False, code=e.rcvd and e.rcvd.code,
                   reason=e.rcvd and e.rcvd.reason)


async def main():
    mode, url = sys.argv[1], sys.argv[2]
    deflate = '--deflate' in sys.argv[3:]
    t0 = time.perf_counter()
    try:
        await {'echo': echo_checks, 'stelar': stelar_checks, 'edge': edge_checks}[mode](url, deflate)
    except Exception as e:  # a protocol violation detected by websockets, or a timeout
        record('no exception', False, error=f'{type(e).__name__}: {e}')
    failed = [r for r in results if not r['ok']]
    print(json.dumps({'summary': True, 'mode': mode, 'deflate': deflate, 'checks': len(results), 'failed': len(failed),
                      'seconds': round(time.perf_counter() - t0, 2)}), flush=True)
    sys.exit(1 if failed or not results else 0)


asyncio.run(main())
