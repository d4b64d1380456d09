/** The channels of one node (see the README). */
export interface Channels {
  /** Broadcasts to everyone or several rooms (every node subscribes). */
  readonly global: string;
  /** Requests, heartbeats, hellos, goodbyes (every node subscribes). */
  readonly req: string;
  /** This node's response channel. */
  readonly res: string;
  resOf(node: string): string;
  /** A room's channel (sharded brokers). */
  room(room: string): string;
}

/**
 * The channel names of a prefix. Control channels and the global stream share one hash slot
 * (the `{prefix}` tag): on a sharded broker they live on one shard, so a query can count its
 * receivers atomically with its publish, and a heartbeat is ordered with the broadcasts it
 * numbers. Room channels spread.
 */
export function channelsOf(prefix: string, sharded: boolean, nodeId: string): Channels {
  const tag = `{${prefix}}`;
  const resOf = (node: string): string => `${tag}#res#${node}`;
  return {
    global: sharded ? `${tag}#all` : `${tag}#bc`,
    req: `${tag}#req`,
    res: resOf(nodeId),
    resOf,
    room: (room) => `${prefix}#room#${room}`,
  };
}
