/** What the chaos test's clients and server processes say. */
export interface Chaos {
  client: { up: { n: number; room?: string } }
  server: { down: { n: number }; said: { from: string; n: number } }
}
