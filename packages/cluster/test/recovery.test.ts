/**
 * Connection-state recovery needs a cluster-wide log (`Broker.log`, which the Redis broker has in
 * classic mode): over a broker without one (MemoryBroker) the hub refuses the adapter up front.
 */
import { describe, expect, it, vi } from 'vitest';
import { Hub } from '@stelar/core';
import { ClusterAdapter, MemoryBroker, MemoryBus } from '../src/index';

describe('connection-state recovery', () => {
  it.each([true, { maxMessages: 10 }])('a hub with recovery %j refuses a ClusterAdapter over a broker without a log at construction, before the broker is opened', (recovery) => {
    const broker = new MemoryBroker(new MemoryBus());
    const open = vi.spyOn(broker, 'open');
    const adapter = new ClusterAdapter(broker);
    expect(() => new Hub({ recovery, adapter })).toThrow(TypeError);
    expect(() => new Hub({ recovery, adapter })).toThrow(/^ClusterAdapter does not support connection-state recovery \(HubOptions\.recovery\)/);
    expect(open).not.toHaveBeenCalled();
  });

  it('without recovery the same adapter is accepted', async () => {
    const broker = new MemoryBroker(new MemoryBus());
    const hub = new Hub({ adapter: new ClusterAdapter(broker, { discoveryTimeout: 50 }) });
    await hub.ready();
    expect(hub.getStats().recovery).toBeUndefined();
    await hub.dispose();
  });
});
