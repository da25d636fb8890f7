import { inject } from 'vitest'
import { openControl as openControlLink } from '@lifeline/test-utils/page'
import type { Control as ControlLink } from '@lifeline/test-utils/page'
import type { BrowserTestServers, ControlRequest, ControlResults } from './servers.js'

export const servers: BrowserTestServers = inject('lifelineServers')

/** `ws://127.0.0.1:<port><path>`. */
export function wsUrl(port: number, path = '/'): string {
  return `ws://127.0.0.1:${port}${path}`
}

/** A path no other test uses, so a server's records can be told apart per test. */
export function uniquePath(name: string): string {
  return `/${name}/${crypto.randomUUID()}`
}

export type Control = ControlLink<ControlRequest, ControlResults>

/** Opens the control link to the Node side (see `globalSetup.ts`). */
export function openControl(): Promise<Control> {
  return openControlLink<ControlRequest, ControlResults>(servers.controlPort)
}
