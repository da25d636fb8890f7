import { act } from '@testing-library/react'
import { hydrateRoot } from 'react-dom/client'
import { renderToString } from 'react-dom/server'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FakeWebSocket } from '@lifeline/core/testing'
import { LifelineProvider } from '../src/index.js'
import { EveryHook, ssrOptions } from './everyHook.js'
import { welcome } from './fake.js'

beforeEach(() => FakeWebSocket.reset())
afterEach(() => vi.restoreAllMocks())

describe('hydration', () => {
  it("hydrates the server's HTML without a mismatch, then connects and shows the live state", () => {
    const tree = (
      <LifelineProvider options={ssrOptions}>
        <EveryHook />
      </LifelineProvider>
    )
    const container = document.createElement('div')
    container.innerHTML = renderToString(tree)
    document.body.append(container)
    expect(FakeWebSocket.instances).toHaveLength(0)
    const errors = vi.spyOn(console, 'error')
    const recoverable: unknown[] = []
    let root: ReturnType<typeof hydrateRoot> | undefined
    act(() => {
      root = hydrateRoot(container, tree, {
        onRecoverableError: (error) => recoverable.push(error),
      })
    })
    expect(recoverable).toEqual([])
    expect(errors).not.toHaveBeenCalled()
    expect(FakeWebSocket.instances).toHaveLength(1)
    expect(container.textContent).toBe('connecting|1|false|none|none|loading|idle|send')
    act(() => welcome())
    expect(container.textContent).toMatch(/^open\|1\|true\|/)
    act(() => root?.unmount())
    container.remove()
  })
})
