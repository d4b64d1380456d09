/**
 * Experiment for a proposed transport-node change, loaded into the Stelar server processes only:
 *
 *   node apps/bench/dist/main.js --stelar-node-args "--import ./apps/bench/experiments/autocork.mjs" …
 *
 * Every socket is corked while one of its 'data' chunks is handled and uncorked right after, so
 * all the replies written synchronously for that chunk leave in one writev() instead of one
 * write() per frame. (The proposal: TcpLink.onData / WsConnection.onData do exactly this.)
 */
import net from 'node:net';

const emit = net.Socket.prototype.emit;
net.Socket.prototype.emit = function patchedEmit(event, ...args) {
  if (event !== 'data') return emit.call(this, event, ...args);
  this.cork();
  try {
    return emit.call(this, event, ...args);
  } finally {
    this.uncork();
  }
};
