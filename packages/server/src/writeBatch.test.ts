import { describe, expect, it } from 'vitest'
import { maxBatchBytes, WriteBatch } from './writeBatch.js'

function fakeTransport() {
  const calls: string[] = []
  return { calls, cork: () => calls.push('cork'), uncork: () => calls.push('uncork') }
}

const nextTick = () => new Promise<void>((resolve) => process.nextTick(resolve))

describe('WriteBatch', () => {
  it('corks once for all the frames of a turn and uncorks right after it', async () => {
    const transport = fakeTransport()
    const batch = new WriteBatch(transport)
    for (let i = 0; i < 100; i++) batch.add(100)
    expect(transport.calls).toEqual(['cork'])
    await nextTick()
    expect(transport.calls).toEqual(['cork', 'uncork'])
    batch.add(100)
    await nextTick()
    expect(transport.calls).toEqual(['cork', 'uncork', 'cork', 'uncork'])
  })

  it(`writes out what it holds past ${maxBatchBytes} bytes, within the turn`, async () => {
    const transport = fakeTransport()
    const batch = new WriteBatch(transport)
    const frame = maxBatchBytes / 4
    for (let i = 0; i < 4; i++) batch.add(frame)
    expect(transport.calls).toEqual(['cork'])
    batch.add(frame)
    expect(transport.calls).toEqual(['cork', 'uncork', 'cork'])
    await nextTick()
    expect(transport.calls).toEqual(['cork', 'uncork', 'cork', 'uncork'])
  })

  it('flushes at most once, also when flushed by hand before the turn ends', async () => {
    const transport = fakeTransport()
    const batch = new WriteBatch(transport)
    batch.flush()
    batch.add(10)
    batch.flush()
    await nextTick()
    expect(transport.calls).toEqual(['cork', 'uncork'])
  })
})
