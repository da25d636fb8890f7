import { describe, expect, it } from 'vitest'
import { Turns } from './turns.js'

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

/** Defers `count` tasks on `turns`, each noting its number in `served` and costing `work`. */
function line(turns: Turns, count: number, work: number): number[] {
  const served: number[] = []
  for (let i = 0; i < count; i++) {
    turns.defer(() => {
      served.push(i)
      turns.charge(work)
    })
  }
  return served
}

describe('Turns', () => {
  it('serves the line in order, a budget of work per turn', async () => {
    const turns = new Turns(10, 100)
    const served = line(turns, 8, 50)
    await nextTurn()
    expect(served).toEqual([0, 1])
    await nextTurn()
    expect(served).toEqual([0, 1, 2, 3])
  })

  it('takes what a turn overspent off the next one', async () => {
    const turns = new Turns(10, 100)
    const served = line(turns, 8, 50)
    // Reads of sockets before the line's turn, in the same iteration: half a budget more.
    turns.charge(150)
    await nextTurn()
    expect(served).toEqual([0])
    // Then a whole budget again.
    await nextTurn()
    expect(served).toEqual([0, 1, 2])
  })

  it('serves the line in every turn, however much work outside it overspent', async () => {
    const turns = new Turns(10, 100)
    const served = line(turns, 3, 30)
    // A hundred budgets spent outside the line (a huge broadcast, say): half a budget carries.
    turns.charge(100 * 100)
    await nextTurn()
    expect(served).toEqual([0, 1])
    await nextTurn()
    expect(served).toEqual([0, 1, 2])
  })
})
