/**
 * The server side of the late-timer scenario, shared by the Node test (in-process) and the
 * Deno one (a server script in its own process): two peers A and B (test/node/late-peer.ts).
 * When B says "stall", the server's event handler hogs the event loop until A's PONG is
 * surely in the socket buffer (the peer writes a marker file after sending it) and A's
 * deadline is at least 100 ms past, then 50 ms more. Whether A survives shows whether the
 * timer read the waiting I/O before judging the deadline.
 */
import { existsSync } from 'node:fs';
import type { ConnectionView, HostEvent } from '../../runtime/host/types.ts';

export interface Stall {
  a: string;
  from: number;
  until: number;
}

export interface LateTimerOutcome {
  stall: Stall;
  deadline: number;
  dead: HostEvent | undefined;
  view: ConnectionView | undefined;
}

export function lateTimerScenario(interval: number, marker: string) {
  const pingedAt = new Map<string, number>();
  const events: HostEvent[] = [];
  let stall: Stall | undefined;
  const onEvent = (event: HostEvent) => {
    events.push(event);
    if (event.type === 'sent' && event.message === 'PING' && !pingedAt.has(event.id)) pingedAt.set(event.id, Date.now());
    if (event.type === 'received' && event.message === 'MESSAGE' && !stall) {
      const a = [...pingedAt.keys()].find((id) => id !== event.id)!;
      const deadline = pingedAt.get(a)! + interval;
      const from = Date.now();
      // Hog the loop until A's PONG is surely in our socket buffer and the deadline is well past.
      for (let spin = 0; Date.now() - from < 5_000; spin++) {
        if (spin % 1000 === 0 && existsSync(marker) && Date.now() >= deadline + 100) {
          const seen = Date.now();
          while (Date.now() - seen < 50);
          break;
        }
      }
      stall = { a, from, until: Date.now() };
    }
  };
  return {
    onEvent,
    get stall() {
      return stall;
    },
    /** Once A has its verdict (dead, or its PONG counted): what happened. */
    outcome(view: (id: string) => ConnectionView | undefined): LateTimerOutcome | undefined {
      if (!stall) return undefined;
      const a = stall.a;
      const dead = events.find((e) => e.id === a && e.type === 'dead');
      const seen = view(a);
      if (!dead && (seen?.pongsReceived ?? 0) < 1) return undefined;
      return { stall, deadline: pingedAt.get(a)! + interval, dead, view: seen };
    },
  };
}
