/** The messages of the example: the one type the page and the server both compile against. */
export interface EchoSchema {
  client: { say: { readonly text: string } }
  server: { echo: { readonly text: string; readonly at: string } }
}
