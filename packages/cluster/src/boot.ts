import { StelarError } from '@stelar/core';
import type { Broker } from './broker';
import type { Heartbeat } from './heartbeat';
import type { Membership } from './membership';
import { ClusterErrorCode, type BrokerErrorCodes, type ResolvedClusterOptions } from './options';
import type { Subscriptions } from './subscriptions';
import { unref } from './util';

/** What joining the cluster waits on. */
export interface BootContext {
  readonly broker: Broker;
  readonly options: ResolvedClusterOptions;
  readonly codes: BrokerErrorCodes;
  readonly subs: Subscriptions;
  readonly peers: Membership;
  readonly heartbeat: Heartbeat;
  closed(): boolean;
}

/** Subscribed and connected, then the other nodes discovered (or `discoveryTimeout`). */
export async function boot(ctx: BootContext): Promise<void> {
  const { peers, subs, broker } = ctx;
  await new Promise<void>((resolve, reject) => {
    peers.watch(() => {
      if (ctx.closed()) reject(new StelarError(ClusterErrorCode.ADAPTER_CLOSED, 'the adapter was closed while starting'));
      else if (subs.done && broker.publisherUp) resolve();
      else if (subs.error) reject(subs.error);
      else return false;
      return true;
    });
  });
  // The broker says how many other nodes are subscribed; wait (a little) until each has said hello.
  const expectedPeers = await ctx.heartbeat.hello().catch(() => 0);
  await new Promise<void>((resolve) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      resolve();
    }, ctx.options.discoveryTimeout);
    unref(timer);
    peers.watch(() => {
      if (!late && !ctx.closed() && peers.size < expectedPeers) return false;
      clearTimeout(timer);
      resolve();
      return true;
    });
  });
}

/** Why the start did not complete within `startTimeout`. */
export function startError(ctx: BootContext): StelarError {
  const { broker, subs } = ctx;
  const ms = ctx.options.startTimeout;
  if (broker.subscriberUp && !subs.done) {
    const hint = broker.subscribeHint?.();
    return new StelarError(ctx.codes.SUBSCRIBE_FAILED, `${broker.name} is reachable but the subscriptions did not complete in ${ms} ms${hint ? ` (${hint})` : ''}`);
  }
  return new StelarError(ctx.codes.DOWN, `${broker.name} not reachable in ${ms} ms (${broker.address}); still trying in the background`);
}
