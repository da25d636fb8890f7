import { inject } from 'vitest'
import { openControl as openControlLink } from '@lifeline/test-utils/page'
import type { Control } from '@lifeline/test-utils/page'
import type { ChromiumTestServers, ControlRequest, ControlResults } from './servers.js'

export const servers: ChromiumTestServers = inject('chromiumServers')

/** The Lifeline server, through the fault proxy. */
export const lifelineUrl = `ws://127.0.0.1:${servers.lifelinePort}/`
export const echoUrl = `ws://127.0.0.1:${servers.echoPort}/`
export const labUrl = `http://127.0.0.1:${servers.pagesPort}/lab.html`
export const awayUrl = `http://127.0.0.1:${servers.pagesPort}/away.html`

export type LabControl = Control<ControlRequest, ControlResults>

/** Opens the control link to the Node side (see `globalSetup.ts`). */
export function openControl(): Promise<LabControl> {
  return openControlLink<ControlRequest, ControlResults>(servers.controlPort)
}

/** A name no other run uses: the server's records are kept per run. */
export const newRun = (name: string): string => `${name}-${crypto.randomUUID()}`

/** Fast retries: the backoff rules are unit-tested elsewhere; here they would only slow tests. */
export const quickRetry = { initialDelayMs: 20, maxDelayMs: 100 } as const
