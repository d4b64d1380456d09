import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/** A loopback TCP proxy whose links a test can cut, the way a network drops them. */
export interface CuttingProxy {
  readonly port: number;
  /** Connections accepted so far (refused ones not counted). */
  readonly accepted: number;
  /** Resets both sockets of every link (whatever is in flight is lost). */
  cut(): void;
  /** Resets the client's side only: the server's socket stays open and silent (a half-open link). */
  cutClientSide(): void;
  /** While on, new connections are closed at once. */
  refuse(on: boolean): void;
  /** New connections go to these ports, in turn from the first. */
  retarget(to: number[]): void;
  /** Cuts every link, frees the half-open ones and stops listening. */
  close(): Promise<void>;
}

/** A proxy to `targets` on 127.0.0.1: each new connection goes to the next one in turn. */
export async function cuttingProxy(targets: number | number[]): Promise<CuttingProxy> {
  let ports = typeof targets === 'number' ? [targets] : targets;
  let next = 0;
  let refusing = false;
  let accepted = 0;
  const pairs = new Set<[Socket, Socket]>();
  const stale: Socket[] = [];
  const server = createServer((inbound) => {
    if (refusing) return void inbound.destroy();
    accepted++;
    const outbound = connect(ports[next++ % ports.length]!, '127.0.0.1');
    const pair: [Socket, Socket] = [inbound, outbound];
    pairs.add(pair);
    const kill = (): void => {
      pairs.delete(pair);
      inbound.destroy();
      outbound.destroy();
    };
    for (const s of pair) s.on('error', kill).on('close', kill);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const cut = (): void => {
    for (const pair of [...pairs]) for (const s of pair) s.resetAndDestroy();
    pairs.clear();
  };
  return {
    port: (server.address() as AddressInfo).port,
    get accepted() {
      return accepted;
    },
    cut,
    cutClientSide: () => {
      for (const [inbound, outbound] of pairs) {
        inbound.unpipe(outbound);
        outbound.unpipe(inbound);
        outbound.removeAllListeners('close').removeAllListeners('error').on('error', () => undefined);
        inbound.resetAndDestroy();
        stale.push(outbound);
      }
      pairs.clear();
    },
    refuse: (on) => void (refusing = on),
    retarget: (to) => {
      ports = to;
      next = 0;
    },
    close: () =>
      new Promise<void>((r) => {
        cut();
        for (const s of stale.splice(0)) s.destroy();
        server.close(() => r());
      }),
  };
}
