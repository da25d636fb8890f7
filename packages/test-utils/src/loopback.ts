import type { AddressInfo, Server } from 'node:net'

/** Listens on 127.0.0.1, on a port the system picks, and resolves with that port. */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  return (server.address() as AddressInfo).port
}

/** The `ws://` URL of a loopback port, with `path` given a leading slash when it lacks one. */
export function loopbackUrl(port: number, path = '/'): string {
  return `ws://127.0.0.1:${port}${path.startsWith('/') ? path : `/${path}`}`
}
