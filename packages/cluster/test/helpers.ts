import { Hub, type AnyEvents, type HubOptions } from '@stelar/core';
import { ClientEngine } from '@stelar/core/client';
import { disposeNodes } from '@stelar/test-utils';
import { memoryDialer, tick, until } from '../../core/test/memory-link';
import { ClusterAdapter, MemoryBroker, MemoryBus, type ClusterAdapterOptions, type MemoryBrokerOptions } from '../src/index';

export { tick, until };

export type Events = AnyEvents;

export interface Node {
  hub: Hub<Events>;
  adapter: ClusterAdapter;
  broker: MemoryBroker;
  client(opts?: ConstructorParameters<typeof ClientEngine>[1]): Promise<ClientEngine<Events>>;
}

/** Hubs on one in-memory bus, with their clients; closed by `dispose()`. */
export class Cluster {
  readonly bus = new MemoryBus();
  readonly nodes: Node[] = [];
  private readonly clients: ClientEngine<Events>[] = [];

  constructor(private readonly defaults: ClusterAdapterOptions & { broker?: MemoryBrokerOptions } = {}) {}

  /** A node, not waited for (its `ready()` is the caller's). */
  make(options: ClusterAdapterOptions & { broker?: MemoryBrokerOptions } = {}, hubOptions: HubOptions = {}): Node {
    const { broker: brokerOptions, ...adapterOptions } = { ...this.defaults, ...options };
    const broker = new MemoryBroker(this.bus, { publishTimeout: 300, ...brokerOptions });
    const adapter = new ClusterAdapter(broker, { heartbeatInterval: 50, nodeTimeout: 300, requestTimeout: 1_000, probeInterval: 50, discoveryTimeout: 200, ...adapterOptions });
    const hub = new Hub<Events>({ heartbeat: false, ...hubOptions, adapter });
    const node: Node = {
      hub,
      adapter,
      broker,
      client: async (opts = {}) => {
        const c = new ClientEngine<Events>(memoryDialer(() => hub), { heartbeat: false, reconnect: false, ...opts });
        this.clients.push(c);
        await c.connect();
        return c;
      },
    };
    this.nodes.push(node);
    return node;
  }

  async add(options: ClusterAdapterOptions & { broker?: MemoryBrokerOptions } = {}): Promise<Node> {
    const node = this.make(options);
    await node.hub.ready();
    return node;
  }

  /** `n` nodes that all know each other. */
  async start(n: number, options: ClusterAdapterOptions & { broker?: MemoryBrokerOptions } = {}): Promise<Node[]> {
    const out: Node[] = [];
    for (let i = 0; i < n; i++) out.push(await this.add(options));
    await until(() => this.nodes.every((x) => x.adapter.nodeCount() === this.nodes.length), 2_000);
    return out;
  }

  async dispose(): Promise<void> {
    await disposeNodes(this.clients, this.nodes, 100);
  }
}
