import type { IncomingMessage } from 'node:http'
import { isIPv6 } from 'node:net'

/**
 * Names the client of an upgrade request for the per-address limits, e.g. from a header set by
 * a trusted proxy. Return `undefined` to fall back to `request.socket.remoteAddress`.
 */
export type ClientAddress = (request: IncomingMessage) => string | undefined

/** A key longer than this is cut: a header's value must not size the limiter's memory. */
const maxKeyLength = 64

/** The first four groups of an IPv6 address (its /64), in canonical hexadecimal. */
function ipv6Prefix64(address: string): string {
  const bare = address.split('%')[0] as string
  const gap = bare.indexOf('::')
  const head = (gap === -1 ? bare : bare.slice(0, gap)).split(':').filter(Boolean)
  const tail =
    gap === -1
      ? []
      : bare
          .slice(gap + 2)
          .split(':')
          .filter(Boolean)
  // A dotted IPv4 tail stands for two groups; it is always past the first four.
  const tailGroups = tail.reduce((n, group) => n + (group.includes('.') ? 2 : 1), 0)
  const groups = [...head, ...Array<string>(Math.max(0, 8 - head.length - tailGroups)).fill('0')]
  groups.push(...tail)
  return groups
    .slice(0, 4)
    .map((group) => parseInt(group, 16).toString(16))
    .join(':')
}

/**
 * The key an address is limited by. IPv4 addresses (IPv4-mapped IPv6 ones included) count one
 * by one; an IPv6 address counts with its /64, since a single host may use any address of its
 * /64 at will. Anything else (a name from `clientAddress`) is used as it is, cut to 64
 * characters.
 */
export function addressKey(address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown'
  const trimmed = address.trim()
  if (isIPv6(trimmed)) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(trimmed)
    if (mapped !== null) return mapped[1] as string
    return `${ipv6Prefix64(trimmed)}::/64`
  }
  return trimmed.length > maxKeyLength ? trimmed.slice(0, maxKeyLength) : trimmed
}

/**
 * The limiter's key for `request`: `clientAddress(request)` when given (a throw or `undefined`
 * falls back to the socket's address, so a broken function cannot lift the limits), else the
 * address of the TCP peer.
 */
export function clientKeyOf(
  request: IncomingMessage,
  clientAddress: ClientAddress | undefined,
): string {
  let address: string | undefined
  if (clientAddress !== undefined) {
    try {
      const named = clientAddress(request)
      address = typeof named === 'string' ? named : undefined
    } catch {
      address = undefined
    }
  }
  return addressKey(address ?? request.socket.remoteAddress)
}
