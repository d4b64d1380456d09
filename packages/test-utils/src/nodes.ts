// Helpers of the tests that run several hubs with their clients in one process (adapter-redis's
// and cluster's). Typed by what they use, so this package needs none of the packages under test.

/** What `recorder` needs of a client: core's `ClientEngine` and both clients have it. */
interface EventSource {
  onAny(handler: (event: string, data: unknown) => void): unknown;
}

/** Records every event the client receives: the data of each, by event name, in order. */
export function recorder(client: EventSource): Map<string, unknown[]> {
  const got = new Map<string, unknown[]>();
  client.onAny((event, data) => {
    let list = got.get(event);
    if (!list) got.set(event, (list = []));
    list.push(data);
  });
  return got;
}

/** A node of such a test: what `disposeNodes` needs of it (core's `Hub`). */
interface HubNode {
  hub: { drain(options: { timeout: number }): Promise<unknown>; dispose(): Promise<unknown> };
}

/**
 * Ends a test's cluster: closes every client, then drains each node's hub (waiting up to `drain`
 * ms) and disposes it, one node after the other; both lists are emptied.
 */
export async function disposeNodes(clients: { close(): void }[], nodes: HubNode[], drain: number): Promise<void> {
  for (const c of clients.splice(0)) c.close();
  for (const { hub } of nodes.splice(0)) {
    await hub.drain({ timeout: drain });
    await hub.dispose();
  }
}
