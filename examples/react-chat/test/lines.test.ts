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
    const caughtUp = withHistory(lines, history, new Set(lines.map((line) => line.id)))
    expect(caughtUp).toHaveLength(maxLines)
    // The newest, in order: what came while the page was away is not dropped for older lines.
    expect(caughtUp[0]?.id).toBe('m151')
    expect(caughtUp.at(-1)?.id).toBe(`m${maxLines + 150}`)
  })

  it('keeps lines older than the history before it, in order, after a reconnection', () => {
    // A busy room: the page showed 150 messages, of which the server keeps the last 100, and
    // sent one the server has not had yet.
    let lines: Line[] = []
    for (let n = 1; n <= 150; n++) lines = merge(lines, said(n))
    lines = merge(lines, said(151), true)
    const history = Array.from({ length: 100 }, (_, i) => said(51 + i))
    const shown = new Set(lines.map((line) => line.id))
    const ids = withHistory(lines, history, shown).map((line) => line.id)
    expect(ids).toEqual(Array.from({ length: 151 }, (_, i) => `m${i + 1}`))
  })

  it('puts after the history what came live since it was asked, even where it holds none of the page', () => {
    // Shown before the page asked: older than a history that holds none of them. Came since
    // (a room that talks as the page loads): newer.
    const lines = merge(merge([], said(1)), said(300))
    const history = Array.from({ length: 100 }, (_, i) => said(200 + i))
    const ids = withHistory(lines, history, new Set(['m1'])).map((line) => line.id)
    expect(ids).toEqual(['m1', ...history.map((line) => line.id), 'm300'])
  })

  it('puts the history first, in its order, then what it does not hold yet', () => {
    const mine = merge([], said(3), true)
    const lines = withHistory(mine, [said(1), said(2)], new Set(['m3']))
    expect(lines.map((line) => [line.id, line.pending])).toEqual([
      ['m1', false],
      ['m2', false],
      ['m3', true],
    ])
    expect(confirm(lines, 'm3').at(-1)?.pending).toBe(false)
  })
})
