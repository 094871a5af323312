/**
 * The latest time the host has seen: any interval's start, any sign of life. A tick before
 * it means the clock stepped back (NTP), and deadlines set on the old clock lie up to the
 * step too far ahead, where the timer queue would sleep through them.
 */
export class ClockWatch {
  #latest = -Infinity;

  get latest(): number {
    return this.#latest;
  }

  saw(at: number): void {
    if (at > this.#latest) this.#latest = at;
  }

  /** `at` is before a time already seen: the clock went back. */
  wentBack(at: number): boolean {
    return at < this.#latest;
  }

  /**
   * Forgets anything seen after `at`: after a backward step (the new clock is the truth),
   * or after a PING stamped ahead of the tick that sent it (a stamp is not a time seen).
   */
  resetTo(at: number): void {
    this.#latest = at;
  }
}
