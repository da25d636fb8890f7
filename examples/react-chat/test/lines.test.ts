import { describe, expect, it } from 'vitest'
import { confirm, maxLines, merge, withHistory, type Line } from '../src/lines.js'

const said = (n: number) => ({ room: 'r', id: `m${n}`, from: 'a', text: String(n) })

describe('the lines a page shows', () => {
  it('shows a message once, however often it comes', () => {
    const lines = merge(merge([], said(1)), said(1))
    expect(lines.map((line) => line.id)).toEqual(['m1'])
  })

  it('keeps the newest maxLines, a room that chats all day growing the page no further', () => {
    let lines: Line[] = []
    for (let n = 1; n <= maxLines + 50; n++) lines = merge(lines, said(n))
    expect(lines).toHaveLength(maxLines)
    expect(lines[0]?.id).toBe('m51')
    expect(lines.at(-1)?.id).toBe(`m${maxLines + 50}`)
    const history = Array.from({ length: 100 }, (_, i) => said(maxLines + 51 + i))
    expect(withHistory(lines, history)).toHaveLength(maxLines)
  })

  it('puts the history first, in its order, then what it does not hold yet', () => {
    const mine = merge([], said(3), true)
    const lines = withHistory(mine, [said(1), said(2)])
    expect(lines.map((line) => [line.id, line.pending])).toEqual([
      ['m1', false],
      ['m2', false],
      ['m3', true],
    ])
    expect(confirm(lines, 'm3').at(-1)?.pending).toBe(false)
  })
})
