import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import { addressKey } from './address.js'
import { AddressLimits, type ResolvedConnectionLimits } from './limits.js'

function requestFrom(remoteAddress: string): IncomingMessage {
  return { socket: { remoteAddress }, headers: {} } as unknown as IncomingMessage
}

const limits: ResolvedConnectionLimits = {
  connectionsPerSecond: 10,
  connectionBurst: 3,
  sessionsPerAddress: 2,
  maxSessions: 3,
  maxTrackedAddresses: 100,
}

describe('addressKey', () => {
  it('counts IPv4 one by one and IPv6 by its /64', () => {
    expect(addressKey('10.0.0.1')).toBe('10.0.0.1')
    expect(addressKey('::ffff:10.0.0.1')).toBe('10.0.0.1')
    expect(addressKey('2001:db8:0:1::a')).toBe('2001:db8:0:1::/64')
    expect(addressKey('2001:0DB8:0000:0001:ffff:1:2:3')).toBe('2001:db8:0:1::/64')
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
    expect(addressKey('::1')).toBe('0:0:0:0::/64')
    expect(addressKey('64:ff9b::10.0.0.1')).toBe('64:ff9b:0:0::/64')
    expect(addressKey('2001:db8:0:2::1')).not.toBe(addressKey('2001:db8:0:1::1'))
  })

  it('reads an IPv4-mapped address in any notation, and a bracketed IPv6 address', () => {
    // Not one bucket `0:0:0:0::/64` for every IPv4 client a proxy names in hexadecimal.
    expect(addressKey('::ffff:0a00:0001')).toBe('10.0.0.1')
    expect(addressKey('0:0:0:0:0:FFFF:C0A8:0101')).toBe('192.168.1.1')
    expect(addressKey('::ffff:10.0.0.1%eth0')).toBe('10.0.0.1')
    expect(addressKey('[2001:db8:0:1::a]')).toBe('2001:db8:0:1::/64')
    expect(addressKey('[2001:db8:0:1::b]:443')).toBe('2001:db8:0:1::/64')
    expect(addressKey('[not an address]')).toBe('[not an address]')
  })

  it('reads an IPv4 address with a port as the address', () => {
    expect(addressKey('192.0.2.43:47011')).toBe('192.0.2.43')
    expect(addressKey('192.0.2.43:1')).toBe(addressKey('192.0.2.43:2'))
    expect(addressKey('999.0.2.43:1')).toBe('999.0.2.43:1')
  })

  it('reads a quoted address, as a Forwarded header must write one with a port (RFC 7239)', () => {
    // `for="192.0.2.43:47011"`: as a name, every connection (a new source port) a key of its own.
    expect(addressKey('"192.0.2.43:47011"')).toBe('192.0.2.43')
    expect(addressKey('"192.0.2.43:1"')).toBe(addressKey('"192.0.2.43:2"'))
    expect(addressKey('"[2001:db8:cafe::17]:4711"')).toBe('2001:db8:cafe:0::/64')
    expect(addressKey('"[2001:db8:cafe::17]"')).toBe('2001:db8:cafe:0::/64')
  })

  it('keeps other names as they are, cut to 64 characters', () => {
    expect(addressKey(undefined)).toBe('unknown')
    expect(addressKey(' proxy-7 ')).toBe('proxy-7')
    expect(addressKey('x'.repeat(10_000))).toHaveLength(64)
  })
})

describe('AddressLimits', () => {
  it('admits a burst per address, then the refill rate', () => {
    const limiter = new AddressLimits(limits, undefined)
    const a = requestFrom('10.0.0.1')
    expect([0, 0, 0, 0].map(() => limiter.admitConnection(a, 1_000))).toEqual([
      true,
      true,
      true,
      false,
    ])
    expect(limiter.admitConnection(requestFrom('10.0.0.2'), 1_000)).toBe(true)
    expect(limiter.admitConnection(a, 1_099)).toBe(false)
    expect(limiter.admitConnection(a, 1_100)).toBe(true)
    expect(limiter.admitConnection(a, 1_100)).toBe(false)
  })

  it('holds at most maxTrackedAddresses buckets, and drops refilled ones', () => {
    const limiter = new AddressLimits(limits, undefined)
    let most = 0
    for (let i = 0; i < 20_000; i++) {
      limiter.admitConnection(requestFrom(`10.0.${i >> 8}.${i & 255}`), 5_000)
      most = Math.max(most, limiter.trackedAddresses)
    }
    expect(most).toBe(100)
    // A tenth of a second later every bucket has refilled: the next connection sweeps them.
    limiter.admitConnection(requestFrom('10.255.0.1'), 5_100)
    expect(limiter.trackedAddresses).toBe(1)
  })

  it('counts sessions per address and in all, until they end', () => {
    const limiter = new AddressLimits<string>(limits, undefined)
    const a = requestFrom('10.0.0.1')
    const b = requestFrom('10.0.0.2')
    limiter.sessionAdded('a1', a)
    limiter.sessionAdded('a2', a)
    expect(limiter.sessionRefusal(a)).toMatchObject({
      code: 'TOO_MANY_SESSIONS',
      closeCode: 1013,
      message: 'too many sessions from this address: try again later',
    })
    expect(limiter.sessionRefusal(b)).toBeUndefined()
    limiter.sessionAdded('b1', b)
    expect(limiter.sessionRefusal(requestFrom('10.0.0.3'))).toMatchObject({
      message: 'the server holds all the sessions it may: try again later',
    })
    limiter.sessionEnded('a1')
    limiter.sessionEnded('a1')
    expect(limiter.sessionRefusal(a)).toBeUndefined()
    limiter.clearSessions()
    expect(limiter.sessionRefusal(requestFrom('10.0.0.3'))).toBeUndefined()
  })

  it('uses clientAddress, and the socket when it throws or names nobody', () => {
    const limiter = new AddressLimits(limits, (request) => {
      const named = request.headers['x-client']
      if (named === 'boom') throw new Error('no')
      return named as string | undefined
    })
    const request = (header?: string) =>
      ({
        socket: { remoteAddress: '10.0.0.9' },
        headers: header === undefined ? {} : { 'x-client': header },
      }) as unknown as IncomingMessage
    expect(limiter.keyOf(request('2001:db8::1'))).toBe('2001:db8:0:0::/64')
    expect(limiter.keyOf(request('boom'))).toBe('10.0.0.9')
    expect(limiter.keyOf(request())).toBe('10.0.0.9')
    // A header the proxy left empty names nobody either: not one key shared by every client.
    expect(limiter.keyOf(request(''))).toBe('10.0.0.9')
    expect(limiter.keyOf(request(' '))).toBe('10.0.0.9')
  })
})
