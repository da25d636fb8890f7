/**
 * `connectionBytes`: with the abuse benchmark (bench/README.md), 64 KiB held the good clients'
 * p99 at 70 ms where 256 KiB held it at 173 ms, before turns had a budget in all.
 * `budgetBytes`: four connections' shares, a millisecond or two of encoding and writing.
 */
export const turnDefaults = {
  connectionBytes: 64 * 1024,
  budgetBytes: 256 * 1024,
}

/**
 * Shares the server's work between connections, turn by turn: the output it writes, and the
 * frames it reads, each counted as its size plus `frameWorkBytes` (`OutputBound.read`). A
 * connection that made the server do more than `connectionBytes` of it in one event-loop turn
 * stops being read and waits in line (`defer`), and so do the frames it sends next until it
 * goes quiet (`OutputBound`); each later turn serves the line in order, oldest first, until
 * that turn's work reaches `turnBudgetBytes`, and the rest wait for the next turn. A socket read
 * that comes once the turn's work is spent waits in line too, unparsed, unless its connection is
 * light (`OutputBound.mayParse`). So the work that a turn does for busy connections is bounded
 * whatever their number, and a connection that writes little (a client that calls now and then)
 * is read at every turn, between them.
 */
export class Turns {
  /** Incremented at the start of each turn in which something was written or deferred. */
  turn = 0
  /** Work done in this turn (output written, frames read), by everyone. */
  private spent = 0
  private waiting: Array<() => void> = []
  private scheduled = false

  constructor(
    /** Work one connection may make the server do in a turn before it waits in line. */
    readonly connectionBytes = turnDefaults.connectionBytes,
    /** Work at which a turn's serving of the line stops. */
    private readonly turnBudgetBytes = turnDefaults.budgetBytes,
  ) {}

  /** After `bytes` of work (output written, frames read) by anyone. */
  charge(bytes: number): void {
    this.spent += bytes
    this.schedule()
  }

  /** True once this turn's work has reached its budget: busy connections wait. */
  get spentOut(): boolean {
    return this.spent >= this.turnBudgetBytes
  }

  /** Runs `task` in a later turn, after every task that was waiting before it. */
  defer(task: () => void): void {
    this.waiting.push(task)
    this.schedule()
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(this.serve)
  }

  /**
   * A new turn: a budget more, less what the last one overspent. Serves the tasks that were
   * waiting when it started, in order, until the budget is spent; those it does not reach go
   * first in the next turn, and a task that defers again goes after them all. What overspent
   * it (socket reads in the event loop's poll, which runs before this in the same iteration,
   * a broadcast in its timer) is taken off the next: else one iteration could do a budget's
   * work in its poll and another in its turn.
   */
  private readonly serve = (): void => {
    this.scheduled = false
    this.turn++
    // At most half a budget carries over, and the line's first task runs whatever the debt:
    // work outside the line that overspends every turn must not starve the line for good.
    this.spent = Math.min(this.turnBudgetBytes / 2, Math.max(0, this.spent - this.turnBudgetBytes))
    const waiting = this.waiting
    this.waiting = []
    let next = 0
    try {
      while (next < waiting.length && (next === 0 || this.spent < this.turnBudgetBytes)) {
        const task = waiting[next++] as () => void
        task()
      }
    } finally {
      if (next < waiting.length) {
        this.waiting = waiting.slice(next).concat(this.waiting)
        this.schedule()
      }
    }
  }
}
