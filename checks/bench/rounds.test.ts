import { describe, expect, it } from 'vitest'
import { medianRound, perRound } from '../../bench/scaleout/rounds.js'

// A scale-out round that runs out of time has its rate taken up to its last delivery, which
// leaves out the wait that ended it: a round that lost messages can read as the fastest.
const round = (deliveriesPerSecond: number, timedOut = false) => ({
  result: { deliveriesPerSecond, timedOut },
})

describe('scale-out rounds', () => {
  it('shows the round of median rate', () => {
    const rounds = [round(30), undefined, round(10), round(20)]
    expect(medianRound(rounds)).toBe(rounds[3])
  })

  it('never shows a round that timed out while one completed', () => {
    const rounds = [round(10), round(15, true), round(20)]
    expect(medianRound(rounds)).toBe(rounds[0])
  })

  it('shows a round that timed out when no round completed, so the row says so', () => {
    const rounds = [round(500, true), undefined]
    expect(medianRound(rounds)).toBe(rounds[0])
  })

  it('leaves a round that timed out out of the ratios, as one that failed', () => {
    const rate = (result: { deliveriesPerSecond: number }) => result.deliveriesPerSecond
    expect(perRound([round(10), round(500, true), undefined], rate)).toEqual([10, NaN, NaN])
  })
})
