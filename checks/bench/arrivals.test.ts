import { describe, expect, it } from 'vitest'
import { Arrivals } from '../../bench/scaleout/arrivals.js'
import type { Arrival } from '../../bench/scaleout/arrivals.js'

// The scale-out benchmark's receivers count duplicates and messages out of order; a count
// that cannot tell the one from the other, or loses a message that came late, misreports a run.
function arrive(messages: ReadonlyArray<readonly [from: number, n: number]>): Arrival[] {
  const arrivals = new Arrivals()
  return messages.map(([from, n]) => arrivals.arrive(from, n))
}

describe('Arrivals', () => {
  it('takes each sender in order as new', () => {
    expect(
      arrive([
        [0, 0],
        [1, 0],
        [0, 1],
        [1, 1],
      ]),
    ).toEqual(['new', 'new', 'new', 'new'])
  })

  it('counts a message that came after a later one as late, not as a duplicate', () => {
    expect(
      arrive([
        [0, 0],
        [0, 2],
        [0, 1],
      ]),
    ).toEqual(['new', 'new', 'late'])
  })

  it('counts a late message that comes again as a duplicate', () => {
    expect(
      arrive([
        [0, 0],
        [0, 3],
        [0, 1],
        [0, 1],
        [0, 2],
        [0, 3],
      ]),
    ).toEqual(['new', 'new', 'late', 'duplicate', 'late', 'duplicate'])
  })

  it('does not call a gap out of order: a message never sent or lost is not late', () => {
    expect(
      arrive([
        [0, 0],
        [0, 2],
        [0, 3],
      ]),
    ).toEqual(['new', 'new', 'new'])
  })

  it('counts a message repeated in order as a duplicate', () => {
    expect(
      arrive([
        [0, 0],
        [0, 1],
        [0, 1],
        [0, 0],
      ]),
    ).toEqual(['new', 'new', 'duplicate', 'duplicate'])
  })
})
