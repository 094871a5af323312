/**
 * Figure 4 driver: statechart steps per connection per keepalive interval in steady
 * state, on a virtual clock (deterministic: the same count on every machine). Each peer
 * sends `rate` frames per interval, evenly spaced (PING, PONG, application message in
 * turn), and answers every PING of ours with a PONG 1 ms later; rate 0 is a peer that
 * only answers.
 */
import { Host } from '../../runtime/host/host.ts';
import { TEXT_FRAMES } from '../../runtime/codec/text.ts';

const INTERVAL = 1000;
const LATENCY = 1;
const FRAMES = [TEXT_FRAMES.PING, TEXT_FRAMES.PONG, 'app:message'];

export interface SteadySteps {
  stepsPerInterval: number;
  framesPerInterval: number;
  pingsPerInterval: number;
  deaths: number;
}

export function steadySteps(eager: boolean, connections: number, rate: number, intervals: number, warmup = 5): SteadySteps {
  const replies: { at: number; id: string }[] = [];
  let now = 0;
  let pings = 0;
  let frames = 0;
  let deaths = 0;
  const host = new Host({
    eager,
    now: () => now,
    maxPingsPerInterval: 0,
    defaults: { interval: INTERVAL, count: 5 },
    transport: {
      send: (id, frame) => {
        if (frame !== TEXT_FRAMES.PING) return;
        pings++;
        replies.push({ at: now + LATENCY, id });
      },
      close: () => void deaths++,
    },
  });
  const ids = Array.from({ length: connections }, (_, i) => host.open({ id: `c${i}`, role: 'server', at: 0 }));
  for (const id of ids) host.receive(id, TEXT_FRAMES.ADVERTISE, 0);
  const spacing = rate > 0 ? INTERVAL / (connections * rate) : Infinity;
  let k = 1;
  let steps0 = 0;
  let pings0 = 0;
  let frames0 = 0;
  const end = (warmup + intervals) * INTERVAL;
  for (;;) {
    const frameAt = k * spacing;
    const replyAt = replies[0]?.at ?? Infinity;
    const wake = host.nextWake() ?? Infinity;
    const t = Math.min(frameAt, replyAt, wake);
    if (t > end) break;
    if (now < warmup * INTERVAL && t >= warmup * INTERVAL) [steps0, pings0, frames0] = [host.stats.steps, pings, frames];
    now = t;
    // Frames at the same instant as a deadline arrive first (the socket was read before the timer fired).
    if (replyAt === t) {
      host.receive(replies.shift()!.id, TEXT_FRAMES.PONG, t);
      frames++;
    } else if (frameAt === t) {
      host.receive(ids[k % connections]!, FRAMES[((k / connections) | 0) % FRAMES.length]!, t);
      frames++;
      k++;
    } else host.tick(t);
  }
  const per = connections * intervals;
  return {
    stepsPerInterval: (host.stats.steps - steps0) / per,
    framesPerInterval: (frames - frames0) / per,
    pingsPerInterval: (pings - pings0) / per,
    deaths,
  };
}
