// @vitest-environment node
import { renderToString } from 'react-dom/server'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FakeWebSocket } from '@lifeline/core/testing'

// Server rendering runs in Node without a DOM: importing the package and rendering a tree that
// uses every hook must open no socket and read no browser global.

const browserGlobals = ['window', 'document', 'navigator', 'location', 'self'] as const
let touched: string[]

beforeEach(() => {
  FakeWebSocket.reset()
  touched = []
  for (const name of browserGlobals) {
    Object.defineProperty(globalThis, name, {
      configurable: true,
      get() {
        touched.push(name)
        return undefined
      },
    })
  }
})
afterEach(() => {
  for (const name of browserGlobals) delete (globalThis as Record<string, unknown>)[name]
})

describe('server rendering', () => {
  it('opens no socket, reads no browser global, and renders the initial state', async () => {
    // Imported here, after the traps are set: importing must read no browser global either.
    const { LifelineProvider } = await import('../src/index.js')
    const { EveryHook, ssrOptions } = await import('./everyHook.js')
    const html = renderToString(
      <LifelineProvider options={ssrOptions}>
        <EveryHook />
      </LifelineProvider>,
    )
    expect(html).toBe('<p>connecting|1|false|none|none|loading|idle|send</p>')
    expect(FakeWebSocket.instances).toHaveLength(0)
    expect(touched).toEqual([])
  })

  it('renders a provider of options with a URL relative to the page, which a server has not', async () => {
    const { LifelineProvider } = await import('../src/index.js')
    const { EveryHook, ssrOptions } = await import('./everyHook.js')
    const html = renderToString(
      <LifelineProvider options={{ ...ssrOptions, url: '/live' }}>
        <EveryHook />
      </LifelineProvider>,
    )
    expect(html).toBe('<p>connecting|1|false|none|none|loading|idle|send</p>')
    expect(FakeWebSocket.instances).toHaveLength(0)
    expect(touched).toEqual([])
  })
})
