export { Client, createClient } from './client.js'
export type { RequestOptions, SendOptions } from './client.js'
export { clientDefaults, defaultFraming } from './clientOptions.js'
export type { ClientOptions, RawFraming } from './clientOptions.js'
export type {
  ClientDropEvent,
  ClientEvents,
  ClientState,
  ClientStatus,
  ResetEvent,
} from './clientState.js'
