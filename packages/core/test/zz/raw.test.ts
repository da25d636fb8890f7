import { it } from 'vitest'
import { createClient, type RpcMethod } from '../../src/index.js'
it('timeouts', async () => {
  for (const t of [Infinity, 2 ** 31, 2 ** 40]) {
    const c = createClient<{ rpc: { f: RpcMethod<number, number> } }>({
      url: 'ws://127.0.0.1:1/',
      startClosed: true,
      requestTimeoutMs: t,
    })
    const a = c.request('f', 1).then(
      () => 'ok',
      (e) => e.code,
    )
    const b = c.request('f', 1, { timeoutMs: t }).then(
      () => 'ok',
      (e) => e.code,
    )
    const r = await Promise.race([
      Promise.all([a, b]),
      new Promise((res) => setTimeout(() => res('pending'), 200)),
    ])
    console.log('T', t, r)
    c.close()
    await a
    await b
  }
})
