/**
 * The object's one timer: a Durable Object alarm at the earliest deadline of all its
 * connections, passed to the host as `onNextWake`. Alarms are at-least-once and may run
 * late; the host's tick runs only due connections, so an early, repeated or late alarm
 * is harmless. Deadlines only move later without a step (folded signs of life), so an
 * alarm already armed earlier is kept: it fires, ticks nothing, and is re-armed. The one
 * exception is `follow`: while the object is awake anyway, it moves the alarm later.
 */
export class AlarmTimer {
  readonly #storage: DurableObjectStorage;
  readonly #slack: number;
  /** When the stored alarm fires; null: none; undefined: not read from storage yet. */
  #armedAt: number | null | undefined;
  /** Alarms written over this instance's life (a test's view of churn). */
  setCount = 0;

  constructor(storage: DurableObjectStorage, slack = 0) {
    this.#storage = storage;
    this.#slack = slack;
  }

  /** Reads the alarm left by an earlier instance; call once before the first `schedule`. */
  async load(): Promise<void> {
    this.#armedAt = await this.#storage.getAlarm();
  }

  get armedAt(): number | null {
    return this.#armedAt ?? null;
  }

  /** The alarm has just run: the platform deleted it. */
  fired(): void {
    this.#armedAt = null;
  }

  /**
   * Like `schedule`, but also moves an earlier alarm later, to exactly the new earliest
   * deadline: for when the object is awake anyway and a fold just moved that deadline (a
   * peer answered our PING). One alarm write instead of an early wake-up and its re-arm.
   * Pass `host.nextWake()`: queued deadlines are never later than the true ones, so the
   * alarm never moves past a deadline.
   */
  readonly follow = (deadline: number | null): void => {
    if (deadline === null || this.#armedAt == null || this.#armedAt >= deadline + this.#slack) return this.schedule(deadline);
    this.#armedAt = deadline + this.#slack;
    this.setCount++;
    void this.#storage.setAlarm(this.#armedAt);
  };

  readonly schedule = (deadline: number | null): void => {
    if (deadline === null) {
      if (this.#armedAt !== null) void this.#storage.deleteAlarm();
      this.#armedAt = null;
      return;
    }
    const at = deadline + this.#slack;
    if (this.#armedAt != null && this.#armedAt <= at) return;
    this.#armedAt = at;
    this.setCount++;
    void this.#storage.setAlarm(at);
  };
}
