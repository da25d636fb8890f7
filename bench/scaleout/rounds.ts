// Which rounds of a delivery scenario make its figures: the round a row shows, and each round's
// figure for the ratios taken round by round. A round that ran out of time has its rate taken
// up to its last delivery, which leaves out the wait that ended it: a round that lost messages
// could read as the fastest, so it counts as one that failed.

/** A kind's round: its result, or `undefined` when the round failed. */
export type RoundOutcome<T extends RoundResult> = { result: T } | undefined

export interface RoundResult {
  deliveriesPerSecond: number
  timedOut: boolean
}

/** Whether a round's figures count: it ran, and delivered everything within its time limit. */
const completed = <T extends RoundResult>(found: RoundOutcome<T>): found is { result: T } =>
  found !== undefined && !found.result.timedOut

/** Of each round, `pick` of its result (NaN for a round that failed or timed out). */
export function perRound<T extends RoundResult>(
  rounds: readonly RoundOutcome<T>[],
  pick: (result: T) => number,
): number[] {
  return rounds.map((found) => (completed(found) ? pick(found.result) : NaN))
}

/**
 * The round a row shows: of median deliveries per second among those that completed (of an
 * even count, the lower of the two middle ones); when none did, one that timed out, so the row
 * says so.
 */
export function medianRound<T extends RoundResult, R extends { result: T }>(
  rounds: readonly (R | undefined)[],
): R | undefined {
  const ran = rounds.filter((found) => found !== undefined)
  const done = ran.filter((found) => !found.result.timedOut)
  if (done.length === 0) return ran[0]
  done.sort((a, b) => a.result.deliveriesPerSecond - b.result.deliveriesPerSecond)
  return done[Math.floor((done.length - 1) / 2)]
}
