/**
 * Baseline for figure 1: about the least a keepalive connection can cost, a hand-written
 * record per connection in a `Map`, its deadline in the host's own `TimerQueue`.
 */
import { newConnectionId } from '../../runtime/protocol/connection-id.ts';
import { TimerQueue } from '../../runtime/host/timer-queue.ts';

const AWAITING_ADVERTISE = 0;
const WATCHING = 1;

class IdleRecord {
  state = AWAITING_ADVERTISE;
  readonly interval: number;
  readonly count: number;
  lastSignOfLife: number;
  intervalStart: number;
  unanswered = 0;
  wakeAt: number | null = null;
  constructor(interval: number, count: number, at: number) {
    this.interval = interval;
    this.count = count;
    this.lastSignOfLife = at;
    this.intervalStart = at;
  }
}

export class IdleRecords {
  readonly records = new Map<string, IdleRecord>();
  readonly queue = new TimerQueue<string>();

  open(at: number, interval: number, count: number): string {
    const id = newConnectionId(); // the host's own ids, so both sides pay the same for them
    this.records.set(id, new IdleRecord(interval, count, at));
    return id;
  }

  /** A frame from the peer: ADVERTISE starts timing; any frame is a sign of life. */
  receive(id: string, at: number, advertise: boolean): void {
    const record = this.records.get(id)!;
    if (advertise) record.state = WATCHING;
    record.lastSignOfLife = record.intervalStart = at;
    record.unanswered = 0;
    if (record.state === WATCHING) {
      record.wakeAt = at + record.interval;
      this.queue.set(id, record.wakeAt);
    }
  }

  get size(): number {
    return this.records.size;
  }
}
