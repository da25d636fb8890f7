import { readFileSync } from 'node:fs'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocketServer } from 'ws'
import { useFixtures, waitFor } from '@lifeline/test-utils'
import { ReconnectingWebSocket, type TlsOptions } from '../src/index.js'
import { nextEvent, quickRetry } from './helpers.js'

const fx = useFixtures(afterEach)

/** A self-signed certificate for lifeline.test and 127.0.0.1 (fixtures/tls/README.md). */
const fixtures = fileURLToPath(new URL('./fixtures/tls/', import.meta.url))
const key = readFileSync(join(fixtures, 'key.pem'))
const cert = readFileSync(join(fixtures, 'cert.pem'))

/** A `ws` server behind HTTPS on 127.0.0.1, with that certificate. */
async function wssUrl(): Promise<string> {
  const https = createServer({ key, cert })
  const wss = new WebSocketServer({ server: https })
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve))
  fx.add(() => {
    wss.close()
    https.closeAllConnections()
    https.close()
  })
  return `wss://127.0.0.1:${(https.address() as AddressInfo).port}/`
}

/** A socket with these TLS options, and the errors it reports. */
function connect(url: string, tls: TlsOptions) {
  const socket = fx.add(new ReconnectingWebSocket(url, null, { ...quickRetry, tls }))
  const errors: { code: string; cause: unknown }[] = []
  socket.addEventListener('error', ({ error }) =>
    errors.push({ code: error.code, cause: (error.cause as { code?: unknown } | undefined)?.code }),
  )
  return { socket, errors }
}

describe('TLS', () => {
  it('opens with the certificate as `ca`; without it, each attempt fails with its code, through the backoff', async () => {
    const url = await wssUrl()
    await nextEvent(connect(url, { ca: cert }).socket, 'open')
    const { socket, errors } = connect(url, {})
    await waitFor(() => errors.length >= 2, { message: 'two failed attempts' })
    expect(errors.slice(0, 2)).toEqual([
      { code: 'CONNECTION_ERROR', cause: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
      { code: 'CONNECTION_ERROR', cause: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
    ])
    expect(socket.state.status).not.toBe('closed')
  })

  it('checks the certificate against `servername`', async () => {
    const url = await wssUrl()
    await nextEvent(connect(url, { ca: cert, servername: 'lifeline.test' }).socket, 'open')
    const { errors } = connect(url, { ca: cert, servername: 'other.test' })
    await waitFor(() => errors.length >= 1, { message: 'a failed attempt' })
    expect(errors[0]).toEqual({ code: 'CONNECTION_ERROR', cause: 'ERR_TLS_CERT_ALTNAME_INVALID' })
  })

  it('refuses a server that checkServerIdentity refuses, with an Error or with false', async () => {
    const url = await wssUrl()
    const refusals = [
      () => new Error('not the pinned certificate'),
      // As `ws`'s types have it: tls.connect took this false for a pass.
      (() => false) as unknown as TlsOptions['checkServerIdentity'],
    ]
    for (const checkServerIdentity of refusals) {
      const { socket, errors } = connect(url, { ca: cert, checkServerIdentity })
      await waitFor(() => errors.length >= 1 || socket.state.status === 'open', {
        message: 'the first attempt to end',
      })
      expect(socket.state.status).not.toBe('open')
      expect(errors[0]?.code).toBe('CONNECTION_ERROR')
      socket.close()
    }
    const { socket } = connect(url, { ca: cert, checkServerIdentity: () => undefined })
    await nextEvent(socket, 'open')
  })
})
