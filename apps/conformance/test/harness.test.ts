/**
 * The tester must be able to fail a peer: the catalogue's server role against deliberately broken
 * echo servers (written here on raw sockets, with the tester's own parser) must give FAIL or
 * NON-STRICT where the breakage shows, and PASS elsewhere.
 */
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { CATALOGUE } from '../src/cases';
import type { CaseResult } from '../src/model';
import type { EchoServer } from '../src/peers';
import { runCatalogue } from '../src/runner';
import { buildFrame, closeBody, FrameParser, OP } from '../src/wire';

type Flaw = 'lenient' | 'masks' | 'late-utf8' | 'wrong-close-echo';

/** An echo server with one flaw. 'lenient' checks nothing at all. */
function brokenServer(flaw: Flaw): Promise<EchoServer & { sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let head = Buffer.alloc(0);
    let parser: FrameParser | undefined;
    let msg: Buffer[] = [];
    let opcode = -1;
    let closed = false;
    const send = (op: number, payload: Buffer): void => {
      if (!s.destroyed) s.write(buildFrame({ opcode: op, payload }, flaw === 'masks'));
    };
    s.on('data', (chunk: Buffer) => {
      if (parser) return parser.push(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head.subarray(0, end).toString())![1]!;
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      parser = new FrameParser(
        (f) => {
          if (closed) return;
          if (f.opcode === OP.PING) return send(OP.PONG, f.payload);
          if (f.opcode === OP.CLOSE) {
            closed = true;
            send(OP.CLOSE, flaw === 'wrong-close-echo' ? closeBody(1000) : f.payload.subarray(0, 2));
            s.end();
            return;
          }
          if (f.opcode !== OP.CONT) opcode = f.opcode;
          msg.push(f.payload);
          if (!f.fin) return;
          const data = Buffer.concat(msg);
          msg = [];
          if (flaw === 'late-utf8' && opcode === OP.TEXT && !Buffer.from(data.toString('utf8')).equals(data)) {
            closed = true;
            send(OP.CLOSE, closeBody(1007));
            s.end();
            return;
          }
          send(opcode === OP.TEXT ? OP.TEXT : OP.BINARY, data);
        },
        () => s.destroy(),
      );
      const rest = head.subarray(end + 4);
      if (rest.length > 0) parser.push(rest);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        open: 0,
        sockets,
        idle: async () => 0,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    ),
  );
}

const ONLY = ['1.1.1', '1.4.1', '2.2', '3.1', '4.1.1', '5.3', '5.8', '6.1.2', '6.3.1', '6.4.1', '7.3.4', '7.7.5'];

async function verdicts(flaw: Flaw, only: readonly string[] = ONLY): Promise<Map<string, CaseResult>> {
  const target = await brokenServer(flaw);
  try {
    const report = await runCatalogue(CATALOGUE, { roles: ['server'], target, only, maxWait: 500 });
    return new Map(report.results.map((r) => [r.id, r]));
  } finally {
    await target.close();
  }
}

describe('the tester fails broken peers', { timeout: 60_000 }, () => {
  let lenient: Map<string, CaseResult>;
  beforeAll(async () => {
    lenient = await verdicts('lenient');
  });
  it('a server that checks nothing passes the echo cases and fails every violation case', () => {
    for (const id of ['1.1.1', '2.2', '5.3', '6.1.2', '7.3.4']) expect(lenient.get(id)?.verdict, id).toBe('PASS');
    for (const id of ['1.4.1', '3.1', '4.1.1', '5.8', '6.3.1', '6.4.1']) expect(lenient.get(id)?.verdict, id).toBe('FAIL');
  });

  it('a server that masks its frames fails everything it answers', async () => {
    const r = await verdicts('masks', ['1.1.1', '2.2']);
    expect(r.get('1.1.1')?.verdict).toBe('FAIL');
    expect(r.get('1.1.1')?.detail).toMatch(/masked text frame from the server/);
    expect(r.get('2.2')?.verdict).toBe('FAIL');
  });

  it('a server that checks UTF-8 only on complete messages is NON-STRICT on fail-fast', async () => {
    const r = await verdicts('late-utf8', ['6.3.1', '6.4.1']);
    expect(r.get('6.3.1')?.verdict).toBe('PASS');
    expect(r.get('6.4.1')?.verdict).toBe('NON-STRICT');
    expect(r.get('6.4.1')?.detail).toMatch(/not fail-fast/);
  });

  it('a server that answers every close with 1000 fails the close-code echo', async () => {
    const r = await verdicts('wrong-close-echo', ['7.3.4', '7.7.5']);
    expect(r.get('7.3.4')?.verdict).toBe('PASS');
    expect(r.get('7.7.5')?.verdict).toBe('FAIL');
  });
});
