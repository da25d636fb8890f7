import type { IncomingMessage } from 'node:http'
import { isIPv4, isIPv6 } from 'node:net'

/**
 * Names the client of an upgrade request for the per-address limits, e.g. from a header set by
 * a trusted proxy. Return `undefined` (or an empty string) to fall back to
 * `request.socket.remoteAddress`.
 */
export type ClientAddress = (request: IncomingMessage) => string | undefined

/** A key longer than this is cut: a header's value must not size the limiter's memory. */
const maxKeyLength = 64

/** The eight 16-bit groups of a valid IPv6 address; a zone id (`%eth0`) is dropped. */
function ipv6Groups(address: string): number[] {
  const bare = address.split('%')[0] as string
  const parse = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [parseInt(group, 16)]
          // A dotted IPv4 tail stands for the last two groups.
          const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number)
          return [a * 256 + b, c * 256 + d]
        })
  const gap = bare.indexOf('::')
  if (gap === -1) return parse(bare)
  const head = parse(bare.slice(0, gap))
  const tail = parse(bare.slice(gap + 2))
  return [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail]
}

/**
 * The key an address is limited by. IPv4 addresses (IPv4-mapped IPv6 ones included, in any
 * notation) count one by one; an IPv6 address counts with its /64, since a single host may use
 * any address of its /64 at will. A bracketed IPv6 address (`[…]`, `[…]:port`, as in a
 * `Forwarded` header) counts as the address, and so does an IPv4 one with a port, quoted or
 * not (a `Forwarded` header quotes both). Anything
 * else (a name from `clientAddress`) is used as it is, cut to 64 characters.
 */
export function addressKey(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown'
  // A `Forwarded` header quotes an address with a port, or in brackets (RFC 7239:
  // `for="192.0.2.43:47011"`): read as a name, each port would be a key of its own.
  const trimmed = address.trim().replace(/^"(.*)"$/, '$1')
  // An IPv4 address with a port (`192.0.2.43:47011`, as a `Forwarded` header may name it): the
  // address, or every port of one client would be a key of its own.
  const withPort = /^([\d.]+):\d+$/.exec(trimmed)?.[1]
  if (withPort !== undefined && isIPv4(withPort)) return withPort
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(trimmed)?.[1]
  const ip = bracketed !== undefined && isIPv6(bracketed) ? bracketed : trimmed
  if (isIPv6(ip)) {
    const groups = ipv6Groups(ip)
    const [, , , , , ffff = 0, high = 0, low = 0] = groups
    // ::ffff:a.b.c.d, however written, is the IPv4 client a dual-stack socket reports it as.
    if (ffff === 0xffff && groups.slice(0, 5).every((group) => group === 0)) {
      return [high >> 8, high & 255, low >> 8, low & 255].join('.')
    }
    return `${groups
      .slice(0, 4)
      .map((group) => group.toString(16))
      .join(':')}::/64`
  }
  return trimmed.length > maxKeyLength ? trimmed.slice(0, maxKeyLength) : trimmed
}

/**
 * The limiter's key for `request`: `clientAddress(request)` when given (a throw, `undefined` or
 * a blank string falls back to the socket's address, so a broken function cannot lift the
 * limits), else the address of the TCP peer.
 */
export function clientKeyOf(
  request: IncomingMessage,
  clientAddress: ClientAddress | undefined,
): string {
  let address: string | undefined
  if (clientAddress !== undefined) {
    try {
      const named = clientAddress(request)
      // A blank name (a header the proxy left empty) names nobody: as one key, it would put
      // every such client in one bucket, refused together.
      address = typeof named === 'string' && named.trim() !== '' ? named : undefined
    } catch {
      address = undefined
    }
  }
  return addressKey(address ?? request.socket.remoteAddress)
}
