// End to end over real sockets: the server and client helpers as a transport would use them.
import { describe, it, expect } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  acceptUpgrade,
  CloseCode,
  createClientHandshake,
  PerMessageDeflate,
  Receiver,
  Sender,
  verifyUpgradeResponse,
} from '../src/index';
import type { DeflateParams, Role, WsError } from '../src/index';

interface Peer {
  sender: Sender;
  messages: Array<[string, boolean]>;
  closed: Promise<number | undefined>;
  errors: WsError[];
}

/** Wires a socket to a Receiver and a Sender (what @stelar/transport-node does). */
function attach(role: Role, socket: Duplex, head: Buffer, params: DeflateParams | undefined, onMessage?: (p: Peer, d: Buffer, bin: boolean) => void): Peer {
  const deflate = params && new PerMessageDeflate({ role, params, threshold: 16 });
  const sender = new Sender({
    role,
    deflate,
    write: (h, p) => {
      (socket as import('node:net').Socket).cork?.();
      socket.write(h);
      if (p.length > 0) socket.write(p);
      (socket as import('node:net').Socket).uncork?.();
    },
  });
  let resolveClosed!: (c: number | undefined) => void;
  const peer: Peer = { sender, messages: [], closed: new Promise((r) => (resolveClosed = r)), errors: [] };
  const receiver = new Receiver(
    { role, deflate, maxMessageSize: 1 << 20 },
    {
      onMessage: (d, bin) => {
        peer.messages.push([bin ? d.toString('hex') : d.toString(), bin]);
        onMessage?.(peer, d, bin);
      },
      onPing: (p) => sender.pong(p),
      onPong: () => {},
      onClose: (code) => {
        sender.close(code, undefined, () => socket.end());
        resolveClosed(code);
      },
      onError: (err) => {
        peer.errors.push(err);
        sender.close(err.closeCode, err.message, () => socket.end());
      },
      onDrain: () => socket.resume(),
    },
  );
  socket.on('data', (chunk: Buffer) => {
    if (!receiver.push(chunk)) socket.pause();
  });
  socket.on('close', () => {
    receiver.destroy();
    deflate?.close();
    resolveClosed(undefined);
  });
  socket.on('error', () => {});
  if (head.length > 0 && !receiver.push(head)) socket.pause();
  return peer;
}

async function withServer(perMessageDeflate: boolean, body: (port: number) => Promise<void>): Promise<void> {
  const server = http.createServer((_, res) => res.end('plain http'));
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    const hs = acceptUpgrade(req, { protocols: ['chat'], perMessageDeflate });
    if (!hs.ok) {
      socket.end(hs.response);
      return;
    }
    socket.write(hs.response);
    // Echo server.
    attach('server', socket, head, hs.deflate, (p, d, bin) => p.sender.send(bin ? d : d.toString()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await body((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

function dial(port: number, perMessageDeflate: boolean): Promise<Peer & { protocol: string | undefined; deflate: DeflateParams | undefined }> {
  const hs = createClientHandshake({ host: `127.0.0.1:${port}`, path: '/ws', protocols: ['chat'], perMessageDeflate });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/ws', headers: hs.headers });
    req.on('upgrade', (res, socket, head) => {
      const v = verifyUpgradeResponse(hs, res);
      if (!v.ok) return reject(v.error);
      resolve({ ...attach('client', socket, head, v.deflate), protocol: v.protocol, deflate: v.deflate });
    });
    req.on('response', (res) => reject(new Error(`status ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

describe('loopback over node:http', () => {
  for (const pmd of [false, true]) {
    it(`handshake, echo, fragmentation, ping and closing handshake (permessage-deflate: ${pmd})`, async () => {
      await withServer(pmd, async (port) => {
        const c = await dial(port, pmd);
        expect(c.protocol).toBe('chat');
        expect(c.deflate !== undefined).toBe(pmd);
        c.sender.send('hello');
        c.sender.send(Buffer.from([1, 2, 3]));
        c.sender.send('x'.repeat(100000));
        c.sender.send('frag-', { fin: false });
        c.sender.send('mented');
        c.sender.ping('are you there');
        const start = Date.now();
        while (c.messages.length < 4 && Date.now() - start < 3000) await new Promise((r) => setTimeout(r, 5));
        expect(c.messages).toEqual([
          ['hello', false],
          ['010203', true],
          ['x'.repeat(100000), false],
          ['frag-mented', false],
        ]);
        c.sender.close(CloseCode.NORMAL, 'bye');
        expect(await c.closed).toBe(CloseCode.NORMAL);
        expect(c.errors).toEqual([]);
      });
    });
  }

  it('rejects a bad handshake with an HTTP error response', async () => {
    await withServer(false, async (port) => {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = http.request({
          host: '127.0.0.1',
          port,
          headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '8', 'Sec-WebSocket-Key': 'x' },
        });
        req.on('upgrade', (r, socket) => {
          socket.destroy();
          resolve(r);
        });
        req.on('response', resolve);
        req.on('error', reject);
        req.end();
      });
      expect(res.statusCode).toBe(426);
      expect(res.headers['sec-websocket-version']).toBe('13');
    });
  });
});
