import type { RpcMethod } from '@lifeline/core'

/** A chat message as the server relays it. `id` is the sender's, unique per sender. */
export interface Said {
  room: string
  id: string
  from: string
  text: string
}

/** The chat's schema, shared by the page and the server. */
export interface ChatSchema {
  client: {
    join: { room: string }
    leave: { room: string }
    say: { room: string; id: string; text: string }
  }
  server: { said: Said }
  rpc: { history: RpcMethod<{ room: string }, Said[]> }
}
