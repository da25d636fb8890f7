// The one type both sides compile against: a wrong message type or payload does not compile.

export interface Chat {
  client: { say: { from: string; n: number } }
  server: { said: { from: string; n: number } }
}

/** The room every member of the example is in. */
export const room = 'lobby'
